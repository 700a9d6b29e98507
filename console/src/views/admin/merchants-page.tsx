import { type Merchant, newIdempotencyKey } from "@mypay/sdk";
import { useState } from "preact/hooks";
import { ActionButton } from "../../components/action-button.tsx";
import { AsyncBlock, describeError } from "../../components/async-block.tsx";
import { Card, Page } from "../../components/page.tsx";
import { SecretReveal } from "../../components/secret-reveal.tsx";
import { DateTime, StatusBadge } from "../../components/values.tsx";
import { useAdmin } from "../../session.ts";
import { useAsync } from "../../use-async.ts";

function CreateMerchantForm({ onCreated }: { onCreated: () => void }) {
  const admin = useAdmin();
  const [name, setName] = useState("");
  const [id, setId] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await admin.merchants.create({ name: name.trim(), ...(id.trim() ? { id: id.trim() } : {}) });
      setName("");
      setId("");
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="inline-form" onSubmit={submit} aria-label="Create merchant">
      <div class="field grow">
        <label for="merchant-name">Name</label>
        <input
          id="merchant-name"
          required
          value={name}
          onInput={(e) => setName((e.target as HTMLInputElement).value)}
        />
      </div>
      <div class="field">
        <label for="merchant-id">Id (optional)</label>
        <input
          id="merchant-id"
          pattern="[A-Za-z0-9_\-]{1,64}"
          value={id}
          onInput={(e) => setId((e.target as HTMLInputElement).value)}
        />
      </div>
      <button type="submit" class="button primary" disabled={busy || !name.trim()} aria-busy={busy ? "true" : "false"}>
        {busy ? "Creating…" : "Create merchant"}
      </button>
      {error !== null && (
        <p class="inline-error full" role="alert">
          {describeError(error).message}
        </p>
      )}
    </form>
  );
}

/** Top up one merchant; one idempotency key per amount typed, so a double submit credits once. */
function TopUpForm({ merchant, onDone }: { merchant: Merchant; onDone: (message: string) => void }) {
  const admin = useAdmin();
  const [amount, setAmount] = useState("");
  const [key, setKey] = useState(newIdempotencyKey);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const result = await admin.merchants.topUp(
        merchant.id,
        { amount: amount.trim(), currency: "PKR" },
        { idempotencyKey: key },
      );
      onDone(`${merchant.id}: available now ${result.available} ${result.currency}`);
      setAmount("");
      setKey(newIdempotencyKey());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const field = `topup-${merchant.id}`;
  return (
    <form class="compact-form" onSubmit={submit} aria-label={`Top up ${merchant.id}`}>
      <label for={field} class="visually-hidden">
        Top-up amount for {merchant.id} (PKR)
      </label>
      <input
        id={field}
        inputmode="decimal"
        placeholder="Amount, PKR"
        value={amount}
        onInput={(e) => {
          setAmount((e.target as HTMLInputElement).value);
          setKey(newIdempotencyKey());
        }}
      />
      <button type="submit" class="button secondary" disabled={busy || !amount.trim()}>
        {busy ? "Topping up…" : "Top up"}
      </button>
      {error !== null && (
        <span class="inline-error" role="alert">
          {describeError(error).message}
        </span>
      )}
    </form>
  );
}

/** Merchants (create, top up, issue a key) and every API key (revoke). */
export function MerchantsPage() {
  const admin = useAdmin();
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const merchants = useAsync((signal) => admin.merchants.list({ limit: 100 }, { signal }).toArray(500), [admin]);
  const keys = useAsync((signal) => admin.apiKeys.list({ limit: 100 }, { signal }).toArray(500), [admin]);
  return (
    <Page title="Merchants and keys">
      <Card title="Merchants">
        <CreateMerchantForm onCreated={merchants.reload} />
        {notice && (
          <p class="notice" role="status">
            {notice}
          </p>
        )}
        {secret && <SecretReveal label={secret.label} secret={secret.value} onDismiss={() => setSecret(null)} />}
        <AsyncBlock state={merchants.state} label="merchants" onRetry={merchants.reload}>
          {(list) => (
            <div class="table-wrap">
              <table data-testid="merchants">
                <thead>
                  <tr>
                    <th scope="col">Merchant</th>
                    <th scope="col">Name</th>
                    <th scope="col">Created</th>
                    <th scope="col">Top up</th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((m) => (
                    <tr key={m.id}>
                      <td class="mono">{m.id}</td>
                      <td>{m.name}</td>
                      <td>
                        <DateTime value={m.createdAt} />
                      </td>
                      <td>
                        <TopUpForm merchant={m} onDone={setNotice} />
                      </td>
                      <td class="actions">
                        <ActionButton
                          variant="secondary"
                          label={`New API key for ${m.id}`}
                          action={async () => {
                            const created = await admin.apiKeys.create(m.id);
                            setSecret({ label: `API key for ${m.id}`, value: created.key });
                            keys.reload();
                          }}
                        >
                          New API key
                        </ActionButton>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </AsyncBlock>
      </Card>
      <Card title="API keys">
        <AsyncBlock state={keys.state} label="API keys" onRetry={keys.reload}>
          {(list) => (
            <div class="table-wrap">
              <table data-testid="api-keys">
                <thead>
                  <tr>
                    <th scope="col">Key</th>
                    <th scope="col">Merchant</th>
                    <th scope="col">Created</th>
                    <th scope="col">State</th>
                    <th scope="col">
                      <span class="visually-hidden">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {list.map((k) => (
                    <tr key={k.id}>
                      <td class="mono">{k.prefix}…</td>
                      <td class="mono">{k.merchantId}</td>
                      <td>
                        <DateTime value={k.createdAt} />
                      </td>
                      <td>
                        {k.revokedAt ? (
                          <>
                            <StatusBadge status="REVOKED" /> <DateTime value={k.revokedAt} />
                          </>
                        ) : (
                          <StatusBadge status="ACTIVE" />
                        )}
                      </td>
                      <td class="actions">
                        {!k.revokedAt && (
                          <ActionButton
                            variant="danger"
                            label={`Revoke key ${k.prefix} of ${k.merchantId}`}
                            action={async () => {
                              await admin.apiKeys.revoke(k.id);
                              keys.reload();
                            }}
                          >
                            Revoke
                          </ActionButton>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </AsyncBlock>
      </Card>
    </Page>
  );
}
