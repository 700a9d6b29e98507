import type { WebhookMessage } from "@mypay/sdk";
import { AsyncBlock } from "../../components/async-block.tsx";
import { DateTime, StatusBadge } from "../../components/values.tsx";
import { formatLatency } from "../../format.ts";
import { useMerchant } from "../../session.ts";
import { useAsync } from "../../use-async.ts";

/**
 * Every attempt of one message: time, result, HTTP status, latency and what the receiver answered.
 * Read again whenever the message's attempt count changes.
 */
export function MessageAttempts({ message }: { message: WebhookMessage }) {
  const merchant = useMerchant();
  const { state, reload } = useAsync(
    (signal) => merchant.webhookEndpoints.attempts(message.id, { signal }).toArray(100),
    [merchant, message.id, message.attempts],
  );
  return (
    <AsyncBlock state={state} label="attempts" onRetry={reload}>
      {(attempts) =>
        attempts.length === 0 ? (
          <p class="empty small">No attempt yet.</p>
        ) : (
          <table class="nested" data-testid={`attempts-${message.id}`}>
            <caption class="visually-hidden">Attempts of {message.id}</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Result</th>
                <th scope="col" class="num">
                  HTTP
                </th>
                <th scope="col" class="num">
                  Latency
                </th>
                <th scope="col">Response</th>
              </tr>
            </thead>
            <tbody>
              {attempts.map((a) => (
                <tr key={a.id}>
                  <td>
                    <DateTime value={a.attemptedAt} />
                  </td>
                  <td>
                    <StatusBadge status={a.result === "delivered" ? "DELIVERED" : a.result} />
                  </td>
                  <td class="num">{a.statusCode || "—"}</td>
                  <td class="num">{formatLatency(a.latencyMs)}</td>
                  <td>
                    <code class="excerpt">{a.error ?? a.responseExcerpt ?? ""}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      }
    </AsyncBlock>
  );
}
