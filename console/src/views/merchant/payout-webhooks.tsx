import type { MyPay, WebhookMessage } from "@mypay/sdk";
import { Fragment } from "preact";
import { ActionButton } from "../../components/action-button.tsx";
import { AsyncBlock } from "../../components/async-block.tsx";
import { Link } from "../../components/link.tsx";
import { Card } from "../../components/page.tsx";
import { DateTime, StatusBadge } from "../../components/values.tsx";
import { useMerchant } from "../../session.ts";
import { useAsync } from "../../use-async.ts";
import { MessageAttempts } from "./message-attempts.tsx";

/** Messages of one payout read at once: a payout has a handful of status changes per endpoint. */
const MAX_MESSAGES = 100;

interface PayoutMessages {
  messages: WebhookMessage[];
  hasMore: boolean;
  /** Endpoint id → URL, to say where each message goes (a deleted endpoint is shown by its id). */
  urls: Map<string, string>;
}

async function messagesOf(merchant: MyPay, payoutId: string, signal: AbortSignal): Promise<PayoutMessages> {
  const [page, endpoints] = await Promise.all([
    merchant.webhookEndpoints.messages({ payoutId, limit: MAX_MESSAGES }, { signal }).firstPage(),
    merchant.webhookEndpoints.list({ limit: 100 }, { signal }).toArray(100),
  ]);
  return { messages: page.data, hasMore: page.hasMore, urls: new Map(endpoints.map((e) => [e.id, e.url])) };
}

/**
 * The `payout.updated` webhooks of one payout, newest first: where each went, its delivery state, every
 * attempt (result, HTTP status, latency, response) and a replay. Live while the tab is visible.
 */
export function PayoutWebhooks({ payoutId }: { payoutId: string }) {
  const merchant = useMerchant();
  const { state, reload } = useAsync((signal) => messagesOf(merchant, payoutId, signal), [merchant, payoutId], {
    refreshMs: 3000,
  });
  return (
    <Card title="Webhooks">
      <p class="small">
        This payout's signed <code>payout.updated</code> webhooks to your endpoints, newest first, with every delivery
        attempt. <Link to="/webhooks">Open the message log</Link> for the messages of all your payouts.
      </p>
      <AsyncBlock state={state} label="webhook messages" onRetry={reload}>
        {({ messages, hasMore, urls }) =>
          messages.length === 0 ? (
            <p class="empty">No webhook messages for this payout yet.</p>
          ) : (
            <>
              <div class="table-wrap">
                <table data-testid="payout-messages">
                  <caption class="visually-hidden">Webhook messages of payout {payoutId}</caption>
                  <thead>
                    <tr>
                      <th scope="col">Created</th>
                      <th scope="col">Endpoint</th>
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
                    {messages.map((m) => (
                      <Fragment key={m.id}>
                        <tr data-message={m.id}>
                          <td>
                            <DateTime value={m.createdAt} />
                          </td>
                          <td class="mono small">{urls.get(m.endpointId) ?? m.endpointId}</td>
                          <td class="mono small">{m.id}</td>
                          <td>
                            <StatusBadge status={m.status} />
                          </td>
                          <td class="num">{m.attempts}</td>
                          <td>
                            <DateTime value={m.deliveredAt} />
                          </td>
                          <td class="actions">
                            <ActionButton
                              variant="secondary"
                              label={`Replay ${m.id}`}
                              action={async () => {
                                await merchant.webhookEndpoints.replay(m.id);
                                reload();
                              }}
                            >
                              Replay
                            </ActionButton>
                          </td>
                        </tr>
                        <tr class="expanded">
                          <td colSpan={7}>
                            <MessageAttempts message={m} />
                          </td>
                        </tr>
                      </Fragment>
                    ))}
                  </tbody>
                </table>
              </div>
              {hasMore && <p class="muted small">The newest {MAX_MESSAGES} messages; the message log has them all.</p>}
            </>
          )
        }
      </AsyncBlock>
    </Card>
  );
}
