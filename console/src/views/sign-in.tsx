import { useContext, useState } from "preact/hooks";
import { describeError } from "../components/async-block.tsx";
import { Page } from "../components/page.tsx";
import { type Role, SessionContext, signIn } from "../session.ts";

const COPY: Record<Role | "any", { title: string; hint: string }> = {
  any: {
    title: "Sign in",
    hint: "A merchant API key (mypay_test_…) opens the merchant view; the admin key (mypay_admin_…) opens operations.",
  },
  merchant: { title: "Sign in as a merchant", hint: "Your merchant API key, mypay_test_…" },
  admin: { title: "Sign in to operations", hint: "The admin key, mypay_admin_…" },
};

/**
 * Sign-in with an API key: checked against the gateway before it is kept (for this tab only). `part`
 * says which part of the console asked; any key works on the general page.
 */
export function SignIn({ part, onSignedIn }: { part: Role | "any"; onSignedIn?: (role: Role) => void }) {
  const { session, setSession } = useContext(SessionContext);
  const [key, setKey] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const copy = COPY[part];
  const submit = async (event: Event) => {
    event.preventDefault();
    if (part !== "any" && !key.trim().startsWith(part === "admin" ? "mypay_admin_" : "mypay_test_")) {
      setError(
        part === "admin" ? "That is not the admin key (mypay_admin_…)." : "That is not a merchant key (mypay_test_…).",
      );
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const next = await signIn(session, key);
      setSession(next);
      onSignedIn?.(key.trim().startsWith("mypay_admin_") ? "admin" : "merchant");
    } catch (err) {
      setError(describeError(err).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Page title={copy.title}>
      <form class="card sign-in" onSubmit={submit} aria-label={copy.title} noValidate>
        <div class="field">
          <label for="api-key">API key</label>
          <input
            id="api-key"
            type="password"
            autocomplete="off"
            spellcheck={false}
            value={key}
            onInput={(e) => {
              setKey((e.target as HTMLInputElement).value);
              setError(null);
            }}
            aria-describedby="api-key-hint"
            aria-invalid={error ? "true" : "false"}
            required
          />
          <p id="api-key-hint" class="muted small">
            {copy.hint} The sandbox keys are printed by <code>npm start</code> and listed in the README. The key is kept
            in this tab only.
          </p>
        </div>
        {error && (
          <p class="inline-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" class="button primary" disabled={busy || !key.trim()} aria-busy={busy ? "true" : "false"}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </Page>
  );
}
