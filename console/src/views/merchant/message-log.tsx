import type { WebhookMessageStatus } from "@mypay/sdk";
import { Fragment } from "preact";
import { useState } from "preact/hooks";
import { ActionButton } from "../../components/action-button.tsx";
import { AsyncBlock } from "../../components/async-block.tsx";
import { Card } from "../../components/page.tsx";
import { Pager, useCursorPages } from "../../components/pager.tsx";
import { DateTime, StatusBadge } from "../../components/values.tsx";
import { useMerchant } from "../../session.ts";
import { useAsync } from "../../use-async.ts";
import { MessageAttempts } from "./message-attempts.tsx";

const STATUSES: WebhookMessageStatus[] = ["PENDING", "DELIVERED", "DEAD"];

/** Messages newest first, filterable by delivery state, each with its attempts and a one-click replay. */
export function MessageLog() {
  const merchant = useMerchant();
  const [status, setStatus] = useState<WebhookMessageStatus | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const pages = useCursorPages();
  const { state, reload } = useAsync(
    (signal) =>
      merchant.webhookEndpoints
        .messages(
          { limit: 20, ...(status ? { status } : {}), ...(pages.cursor ? { startingAfter: pages.cursor } : {}) },
          { signal },
        )
        .firstPage(),
    [merchant, status, pages.cursor],
    { refreshMs: 3000 },
  );
  return (
    <Card title="Message log">
      <fieldset class="chips">
        <legend class="visually-hidden">Filter by delivery state</legend>
        {[null, ...STATUSES].map((s) => (
          <button
            key={s ?? "all"}
            type="button"
            class="chip"
            aria-pressed={status === s}
            onClick={() => {
              setStatus(s);
              pages.reset();
            }}
          >
            {s ?? "All"}
          </button>
        ))}
      </fieldset>
      <AsyncBlock state={state} label="messages" onRetry={reload}>
        {(page) =>
          page.data.length === 0 ? (
            <p class="empty">No messages{status ? ` ${status}` : ""} yet.</p>
          ) : (
            <>
              <div class="table-wrap">
                <table data-testid="messages">
                  <thead>
                    <tr>
                      <th scope="col">Created</th>
                      <th scope="col">Event</th>
                      <th scope="col">Message</th>
                      <th scope="col">State</th>
                      <th scope="col" class="num">
                        Attempts
                      </th>
                      <th scope="col">Delivered</th>
                      <th scope="col">
                        <span class="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {page.data.map((m) => (
                      <Fragment key={m.id}>
                        <tr data-message={m.id}>
                          <td>
                            <DateTime value={m.createdAt} />
                          </td>
                          <td>{m.eventType}</td>
                          <td class="mono small">{m.id}</td>
                          <td>
                            <StatusBadge status={m.status} />
                          </td>
                          <td class="num">{m.attempts}</td>
                          <td>
                            <DateTime value={m.deliveredAt} />
                          </td>
                          <td class="actions">
                            <button
                              type="button"
                              class="button secondary"
                              aria-expanded={open === m.id}
                              aria-controls={`attempts-row-${m.id}`}
                              onClick={() => setOpen(open === m.id ? null : m.id)}
                            >
                              {open === m.id ? "Hide attempts" : "Attempts"}
                            </button>
                            <ActionButton
                              variant="secondary"
                              label={`Replay ${m.id}`}
                              action={async () => {
                                await merchant.webhookEndpoints.replay(m.id);
                                setOpen(m.id);
                                reload();
                              }}
                            >
                              Replay
                            </ActionButton>
                          </td>
                        </tr>
                        {open === m.id && (
                          <tr id={`attempts-row-${m.id}`} class="expanded">
                            <td colSpan={7}>
                              <MessageAttempts message={m} />
                            </td>
                          </tr>
                        )}
                      </Fragment>
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
  );
}
