import type { LedgerEntry, MyPay, Payout, PayoutTransition } from "@mypay/sdk";
import { useState } from "preact/hooks";
import { AsyncBlock } from "../../components/async-block.tsx";
import { Link } from "../../components/link.tsx";
import { Card, Page } from "../../components/page.tsx";
import { ReasonForm } from "../../components/reason-form.tsx";
import { DateTime, Money, StatusBadge } from "../../components/values.tsx";
import { useMerchant } from "../../session.ts";
import { useAsync } from "../../use-async.ts";
import { PayoutWebhooks } from "./payout-webhooks.tsx";

const FINAL = new Set(["SUCCESS", "FAILED", "CANCELLED"]);
const CANCELLABLE = new Set(["PENDING", "IN_REVIEW", "ON_HOLD"]);
/** Ledger pages searched for this payout's entries (newest first): enough for any recent payout. */
const ENTRY_PAGES = 5;

/**
 * This payout's hold, capture and release entries. The API lists entries per merchant, not per
 * payout, so the newest pages are searched for the payout id (entries carry it as `holdId`).
 */
async function entriesOf(merchant: MyPay, payoutId: string, signal: AbortSignal): Promise<LedgerEntry[]> {
  const found: LedgerEntry[] = [];
  let pages = 0;
  for await (const page of merchant.balance.entries({ limit: 100 }, { signal })) {
    found.push(...page.data.filter((e) => e.holdId === payoutId));
    if (++pages >= ENTRY_PAGES) break;
  }
  return found;
}

/**
 * One payout: its fields, the history timeline, its ledger entries, its webhooks, and cancel while still
 * possible.
 */
export function PayoutDetailPage({ id }: { id: string }) {
  const merchant = useMerchant();
  const [cancelling, setCancelling] = useState(false);
  const { state, reload } = useAsync(
    async (signal): Promise<{ payout: Payout; history: PayoutTransition[] }> => {
      const [payout, history] = await Promise.all([
        merchant.payouts.get(id, { signal }),
        merchant.payouts.history(id, { signal }),
      ]);
      return { payout, history };
    },
    [merchant, id],
    { refreshMs: 2000 },
  );
  const status = state.status === "ready" ? state.data.payout.status : null;
  const entries = useAsync((signal) => entriesOf(merchant, id, signal), [merchant, id, status]);
  return (
    <Page title={`Payout ${id}`} actions={<Link to="/payouts">← All payouts</Link>}>
      <AsyncBlock state={state} label="payout" onRetry={reload}>
        {({ payout, history }) => (
          <>
            <Card
              title="Summary"
              actions={
                CANCELLABLE.has(payout.status) &&
                !cancelling && (
                  <button type="button" class="button danger" onClick={() => setCancelling(true)}>
                    Cancel payout
                  </button>
                )
              }
            >
              {cancelling && (
                <ReasonForm
                  title="Why cancel?"
                  submitLabel="Cancel payout"
                  required={false}
                  onSubmit={async (reason) => {
                    await merchant.payouts.cancel(payout.id, { reason });
                    reload();
                  }}
                  onClose={() => setCancelling(false)}
                />
              )}
              <dl class="details">
                <div>
                  <dt>Status</dt>
                  <dd data-testid="payout-status">
                    <StatusBadge status={payout.status} />
                    {!FINAL.has(payout.status) && <span class="muted small"> updating live</span>}
                  </dd>
                </div>
                <div>
                  <dt>Amount</dt>
                  <dd>
                    <Money amount={payout.amount} currency={payout.currency} />
                  </dd>
                </div>
                <div>
                  <dt>Reference</dt>
                  <dd>{payout.merchantReference}</dd>
                </div>
                <div>
                  <dt>Destination</dt>
                  <dd>
                    {payout.bankCode} {payout.accountNumber} · {payout.accountTitle}
                  </dd>
                </div>
                <div>
                  <dt>PSP reference</dt>
                  <dd class="mono">{payout.pspReference ?? "—"}</dd>
                </div>
                <div>
                  <dt>Bank attempts</dt>
                  <dd>{payout.attempts}</dd>
                </div>
                {payout.failureCode && (
                  <div>
                    <dt>Failure</dt>
                    <dd>
                      {payout.failureCode}: {payout.failureMessage}
                    </dd>
                  </div>
                )}
                <div>
                  <dt>Created</dt>
                  <dd>
                    <DateTime value={payout.createdAt} />
                  </dd>
                </div>
                <div>
                  <dt>Processed</dt>
                  <dd>
                    <DateTime value={payout.processedAt} />
                  </dd>
                </div>
              </dl>
            </Card>
            <Card title="History">
              <ol class="timeline" data-testid="timeline">
                {history.map((t, i) => (
                  <li key={`${i}-${t.to}`}>
                    <div class="timeline-head">
                      <StatusBadge status={t.to} />
                      <DateTime value={t.at} />
                    </div>
                    <p class="small">
                      {t.from ? `${t.from.replace(/_/g, " ")} → ${t.to.replace(/_/g, " ")}` : "Created"}
                      {t.reason && t.reason !== "created" && <> · {t.reason}</>}
                      <span class="muted"> · by {t.actor}</span>
                    </p>
                  </li>
                ))}
              </ol>
            </Card>
          </>
        )}
      </AsyncBlock>
      <Card title="Ledger entries">
        <AsyncBlock state={entries.state} label="ledger entries" onRetry={entries.reload}>
          {(list) =>
            list.length === 0 ? (
              <p class="empty">No ledger entries for this payout among your latest entries.</p>
            ) : (
              <div class="table-wrap">
                <table data-testid="entries">
                  <thead>
                    <tr>
                      <th scope="col">Time</th>
                      <th scope="col">Kind</th>
                      <th scope="col">Account</th>
                      <th scope="col" class="num">
                        Amount
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {list.map((e) => (
                      <tr key={e.id}>
                        <td>
                          <DateTime value={e.createdAt} />
                        </td>
                        <td>{e.transferKind}</td>
                        <td>{e.account}</td>
                        <td class={`num ${e.amount.startsWith("-") ? "debit" : "credit"}`}>
                          <Money amount={e.amount} currency={e.currency} />
                        </td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )
          }
        </AsyncBlock>
      </Card>
      <PayoutWebhooks payoutId={id} />
    </Page>
  );
}
