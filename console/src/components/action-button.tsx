import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { describeError } from "./async-block.tsx";

/**
 * A button that runs an async action: disabled and marked busy while it runs, with the failure shown
 * beside it (as an alert) instead of being lost.
 */
export function ActionButton({
  action,
  children,
  variant = "primary",
  label,
  disabled = false,
}: {
  action: () => Promise<unknown>;
  children: ComponentChildren;
  variant?: "primary" | "secondary" | "danger";
  /** An accessible name when the visible text is not enough (e.g. "Replay msg_…"). */
  label?: string;
  disabled?: boolean;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button
        type="button"
        class={`button ${variant}`}
        onClick={run}
        disabled={busy || disabled}
        aria-busy={busy ? "true" : "false"}
        {...(label ? { "aria-label": label } : {})}
      >
        {busy ? "Working…" : children}
      </button>
      {error !== null && (
        <span class="inline-error" role="alert">
          {describeError(error).message}
        </span>
      )}
    </span>
  );
}
