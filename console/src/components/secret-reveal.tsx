import { useState } from "preact/hooks";

/**
 * A secret the API shows only once (a webhook signing secret, a new API key): selectable, copyable,
 * and dismissed explicitly so it is not lost by accident.
 */
export function SecretReveal({ label, secret, onDismiss }: { label: string; secret: string; onDismiss: () => void }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    await navigator.clipboard.writeText(secret);
    setCopied(true);
  };
  return (
    <div class="secret" role="status">
      <p>
        <strong>{label}</strong> — shown only this once. Store it now.
      </p>
      <code class="secret-value" data-testid="secret">
        {secret}
      </code>
      <div class="row">
        <button type="button" class="button secondary" onClick={copy}>
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" class="button secondary" onClick={onDismiss}>
          I have stored it
        </button>
      </div>
    </div>
  );
}
