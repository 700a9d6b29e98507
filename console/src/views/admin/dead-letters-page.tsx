import { useState } from "preact/hooks";
import { ActionButton } from "../../components/action-button.tsx";
import { AsyncBlock, describeError } from "../../components/async-block.tsx";
import { Card, Page } from "../../components/page.tsx";
import { Pager, useCursorPages } from "../../components/pager.tsx";
import { DateTime, StatusBadge } from "../../components/values.tsx";
import { useAdmin } from "../../session.ts";
import { useAsync } from "../../use-async.ts";

/** `datetime-local` wants local time without a zone: 24 hours ago, to the minute. */
function dayAgoLocal(): string {
  const d = new Date(Date.now() - 86_400_000);
  d.setMinutes(d.getMinutes() - d.getTimezoneOffset());
  return d.toISOString().slice(0, 16);
}

/** Replay every failed and dead-lettered message since a time, for one merchant or all. */
function ReplayForm({ onReplayed }: { onReplayed: () => void }) {
  const admin = useAdmin();
  const [since, setSince] = useState(dayAgoLocal);
  const [merchantId, setMerchantId] = useState("");
  const [result, setResult] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setResult(null);
    try {
      const { requeued } = await admin.deadLetters.replay({
        since: new Date(since),
        ...(merchantId.trim() ? { merchantId: merchantId.trim() } : {}),
      });
      setResult(`${requeued} message${requeued === 1 ? "" : "s"} put back in the queue.`);
      onReplayed();
    } catch (err) {
      setResult(`Not replayed: ${describeError(err).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="inline-form" onSubmit={submit} aria-label="Replay dead letters">
      <div class="field">
        <label for="replay-since">Failed since</label>
        <input
          id="replay-since"
          type="datetime-local"
          required
          value={since}
          onInput={(e) => setSince((e.target as HTMLInputElement).value)}
        />
      </div>
      <div class="field">
        <label for="replay-merchant">Merchant id (empty: all)</label>
        <input
          id="replay-merchant"
          value={merchantId}
          onInput={(e) => setMerchantId((e.target as HTMLInputElement).value)}
        />
      </div>
      <button type="submit" class="button primary" disabled={busy} aria-busy={busy ? "true" : "false"}>
        {busy ? "Replaying…" : "Replay"}
      </button>
      {result && (
        <p class="full small" role="status">
          {result}
        </p>
      )}
    </form>
  );
}

/** Dead-lettered webhook messages of every merchant, with replay. */
export function DeadLettersPage() {
  const admin = useAdmin();
  const pages = useCursorPages();
  const { state, reload } = useAsync(
    (signal) =>
      admin.deadLetters
        .list({ limit: 20, ...(pages.cursor ? { startingAfter: pages.cursor } : {}) }, { signal })
        .firstPage(),
    [admin, pages.cursor],
    { refreshMs: 5000 },
  );
  return (
    <Page title="Dead letters">
      <Card title="Replay">
        <ReplayForm onReplayed={reload} />
      </Card>
      <Card title="Dead-lettered messages">
        <AsyncBlock state={state} label="dead letters" onRetry={reload}>
          {(page) =>
            page.data.length === 0 ? (
              <p class="empty">No dead letters: every webhook was delivered or is still being tried.</p>
            ) : (
              <>
                <div class="table-wrap">
                  <table data-testid="dead-letters">
                    <thead>
                      <tr>
                        <th scope="col">Created</th>
                        <th scope="col">Merchant</th>
                        <th scope="col">Event</th>
                        <th scope="col">Message</th>
                        <th scope="col">State</th>
                        <th scope="col" class="num">
                          Attempts
                        </th>
                        <th scope="col">
                          <span class="visually-hidden">Actions</span>
                        </th>
                      </tr>
                    </thead>
                    <tbody>
                      {page.data.map((m) => (
                        <tr key={m.id}>
                          <td>
                            <DateTime value={m.createdAt} />
                          </td>
                          <td class="mono">{m.merchantId}</td>
                          <td>{m.eventType}</td>
                          <td class="mono small">{m.id}</td>
                          <td>
                            <StatusBadge status={m.status} />
                          </td>
                          <td class="num">{m.attempts}</td>
                          <td class="actions">
                            <ActionButton
                              variant="secondary"
                              label={`Replay ${m.merchantId}'s failures from ${m.id} on`}
                              action={async () => {
                                await admin.deadLetters.replay({
                                  merchantId: m.merchantId,
                                  since: m.createdAt ?? new Date(0).toISOString(),
                                });
                                reload();
                              }}
                            >
                              Replay from here
                            </ActionButton>
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
