import type { WebhookEndpoint } from "@mypay/sdk";
import { useState } from "preact/hooks";
import { ActionButton } from "../../components/action-button.tsx";
import { AsyncBlock, describeError } from "../../components/async-block.tsx";
import { Card, Page } from "../../components/page.tsx";
import { SecretReveal } from "../../components/secret-reveal.tsx";
import { DateTime, StatusBadge } from "../../components/values.tsx";
import { useMerchant } from "../../session.ts";
import { useAsync } from "../../use-async.ts";
import { MessageLog } from "./message-log.tsx";

/** Register an endpoint; its secret is shown once, by the caller. */
function CreateEndpointForm({ onCreated }: { onCreated: (endpoint: WebhookEndpoint, secret: string) => void }) {
  const merchant = useMerchant();
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await merchant.webhookEndpoints.create({ url: url.trim(), description: description.trim() });
      onCreated(created, created.secret);
      setUrl("");
      setDescription("");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="inline-form" onSubmit={submit} aria-label="Add webhook endpoint">
      <div class="field grow">
        <label for="endpoint-url">Endpoint URL</label>
        <input
          id="endpoint-url"
          type="url"
          required
          placeholder="https://example.com/webhooks"
          value={url}
          onInput={(e) => setUrl((e.target as HTMLInputElement).value)}
        />
      </div>
      <div class="field">
        <label for="endpoint-description">Description</label>
        <input
          id="endpoint-description"
          value={description}
          maxLength={200}
          onInput={(e) => setDescription((e.target as HTMLInputElement).value)}
        />
      </div>
      <button type="submit" class="button primary" disabled={busy || !url.trim()} aria-busy={busy ? "true" : "false"}>
        {busy ? "Adding…" : "Add endpoint"}
      </button>
      {error !== null && (
        <p class="inline-error full" role="alert">
          {describeError(error).message}
        </p>
      )}
    </form>
  );
}

/** Webhook endpoints (create, show the secret once, rotate, disable or enable) and the message log. */
export function WebhooksPage() {
  const merchant = useMerchant();
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const { state, reload } = useAsync(
    (signal) => merchant.webhookEndpoints.list({ limit: 100 }, { signal }).toArray(100),
    [merchant],
  );
  return (
    <Page title="Webhooks">
      <Card title="Endpoints">
        <CreateEndpointForm
          onCreated={(endpoint, value) => {
            setSecret({ label: `Signing secret of ${endpoint.url}`, value });
            reload();
          }}
        />
        {secret && <SecretReveal label={secret.label} secret={secret.value} onDismiss={() => setSecret(null)} />}
        <AsyncBlock state={state} label="endpoints" onRetry={reload}>
          {(endpoints) =>
            endpoints.length === 0 ? (
              <p class="empty">No endpoints yet: add one to receive payout.updated webhooks.</p>
            ) : (
              <div class="table-wrap">
                <table data-testid="endpoints">
                  <thead>
                    <tr>
                      <th scope="col">URL</th>
                      <th scope="col">Events</th>
                      <th scope="col">State</th>
                      <th scope="col">Created</th>
                      <th scope="col">
                        <span class="visually-hidden">Actions</span>
                      </th>
                    </tr>
                  </thead>
                  <tbody>
                    {endpoints.map((ep) => (
                      <tr key={ep.id}>
                        <td>
                          <span class="mono">{ep.url}</span>
                          {ep.description && <div class="muted small">{ep.description}</div>}
                        </td>
                        <td>{ep.eventTypes.length ? ep.eventTypes.join(", ") : "all"}</td>
                        <td>
                          <StatusBadge status={ep.enabled ? "ENABLED" : "DISABLED"} />
                          {ep.disabledReason && <div class="muted small">{ep.disabledReason}</div>}
                        </td>
                        <td>
                          <DateTime value={ep.createdAt} />
                        </td>
                        <td class="actions">
                          <ActionButton
                            variant="secondary"
                            label={`Rotate secret of ${ep.url}`}
                            action={async () => {
                              const rotated = await merchant.webhookEndpoints.rotateSecret(ep.id);
                              setSecret({ label: `New signing secret of ${ep.url}`, value: rotated.secret });
                            }}
                          >
                            Rotate secret
                          </ActionButton>
                          <ActionButton
                            variant={ep.enabled ? "danger" : "secondary"}
                            label={`${ep.enabled ? "Disable" : "Enable"} ${ep.url}`}
                            action={async () => {
                              await merchant.webhookEndpoints.update(ep.id, { enabled: !ep.enabled });
                              reload();
                            }}
                          >
                            {ep.enabled ? "Disable" : "Enable"}
                          </ActionButton>
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
      <MessageLog />
    </Page>
  );
}
