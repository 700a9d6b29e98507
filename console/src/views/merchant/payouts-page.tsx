import { PAYOUT_STATUSES, type PayoutStatus } from "@mypay/sdk";
import { useState } from "preact/hooks";
import { AsyncBlock } from "../../components/async-block.tsx";
import { Link } from "../../components/link.tsx";
import { Card, Page } from "../../components/page.tsx";
import { Pager, useCursorPages } from "../../components/pager.tsx";
import { DateTime, Money, StatusBadge } from "../../components/values.tsx";
import { formatTime } from "../../format.ts";
import { useMerchant } from "../../session.ts";
import { useAsync } from "../../use-async.ts";
import { BalanceCard } from "./balance-card.tsx";

/** How often the list asks again: payouts move in about a second in the sandbox. */
const LIVE_MS = 2000;

/** Balance, then payouts newest first with a status filter, cursor paging and live updates. */
export function PayoutsPage() {
  const merchant = useMerchant();
  const [status, setStatus] = useState<PayoutStatus | null>(null);
  const pages = useCursorPages();
  const { state, reload } = useAsync(
    async (signal) => {
      const page = await merchant.payouts
        .list(
          { limit: 20, ...(status ? { status } : {}), ...(pages.cursor ? { startingAfter: pages.cursor } : {}) },
          { signal },
        )
        .firstPage();
      return { ...page, at: new Date().toISOString() };
    },
    [merchant, status, pages.cursor],
    { refreshMs: LIVE_MS },
  );
  const filter = (next: PayoutStatus | null) => {
    setStatus(next);
    pages.reset();
  };
  return (
    <Page
      title="Payouts"
      actions={
        <Link to="/payouts/new" class="button primary">
          New test payout
        </Link>
      }
    >
      <BalanceCard />
      <Card
        title="Payouts"
        actions={
          state.status === "ready" && (
            <span class="live" aria-live="off">
              <span class="live-dot" aria-hidden="true" /> Live · updated {formatTime(state.data.at)}
            </span>
          )
        }
      >
        <fieldset class="chips">
          <legend class="visually-hidden">Filter by status</legend>
          <button type="button" class="chip" aria-pressed={status === null} onClick={() => filter(null)}>
            All
          </button>
          {PAYOUT_STATUSES.map((s) => (
            <button key={s} type="button" class="chip" aria-pressed={status === s} onClick={() => filter(s)}>
              {s.replace(/_/g, " ")}
            </button>
          ))}
        </fieldset>
        <AsyncBlock state={state} label="payouts" onRetry={reload}>
          {(page) =>
            page.data.length === 0 ? (
              <p class="empty">
                {status ? `No ${status.replace(/_/g, " ")} payouts.` : "No payouts yet."}{" "}
                <Link to="/payouts/new">Create a test payout</Link>.
              </p>
            ) : (
              <>
                <div class="table-wrap">
                  <table>
                    <caption class="visually-hidden">Payouts, newest first</caption>
                    <thead>
                      <tr>
                        <th scope="col">Created</th>
                        <th scope="col">Reference</th>
                        <th scope="col" class="num">
                          Amount
                        </th>
                        <th scope="col">Account</th>
                        <th scope="col">Status</th>
                        <th scope="col">Payout</th>
                      </tr>
                    </thead>
                    <tbody>
                      {page.data.map((p) => (
                        <tr key={p.id} data-payout={p.id}>
                          <td>
                            <DateTime value={p.createdAt} />
                          </td>
                          <td>{p.merchantReference}</td>
                          <td class="num">
                            <Money amount={p.amount} currency={p.currency} />
                          </td>
                          <td>
                            {p.bankCode} ·{p.accountNumber.slice(-4)}
                          </td>
                          <td>
                            <StatusBadge status={p.status} />
                          </td>
                          <td>
                            <Link to={`/payouts/${encodeURIComponent(p.id)}`} class="mono">
                              {p.id}
                            </Link>
                          </td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
                <Pager
                  page={pages.page}
                  hasMore={page.hasMore}
                  onPrevious={pages.previous}
                  onNext={() => pages.next(page.data.at(-1)!.id)}
                />
              </>
            )
          }
        </AsyncBlock>
      </Card>
    </Page>
  );
}
