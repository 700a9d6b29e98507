import { useEffect, useRef, useState } from "preact/hooks";
import { describeError } from "./async-block.tsx";

/**
 * A small form asking why (reject, fail a hold, cancel): focused when it opens, Escape or Cancel
 * closes it, and with `required` it will not submit without a reason.
 */
export function ReasonForm({
  title,
  submitLabel,
  required,
  onSubmit,
  onClose,
}: {
  title: string;
  submitLabel: string;
  required: boolean;
  onSubmit: (reason: string) => Promise<unknown>;
  onClose: () => void;
}) {
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const field = useRef<HTMLTextAreaElement>(null);
  const id = useRef(`reason-${Math.random().toString(36).slice(2)}`).current;
  useEffect(() => field.current?.focus(), []);
  const submit = async (event: Event) => {
    event.preventDefault();
    if (required && !reason.trim()) {
      setError("A reason is required.");
      field.current?.focus();
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await onSubmit(reason.trim());
      onClose();
    } catch (err) {
      setError(describeError(err).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form
      class="reason-form"
      onSubmit={submit}
      onKeyDown={(e) => e.key === "Escape" && onClose()}
      aria-label={title}
      noValidate
    >
      <label for={id}>
        {title}
        {required ? " (required)" : " (optional)"}
      </label>
      <textarea
        id={id}
        ref={field}
        rows={2}
        maxLength={500}
        value={reason}
        onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)}
        aria-invalid={error ? "true" : "false"}
        aria-describedby={error ? `${id}-error` : undefined}
        required={required}
      />
      {error && (
        <p id={`${id}-error`} class="inline-error" role="alert">
          {error}
        </p>
      )}
      <div class="row">
        <button type="submit" class="button primary" disabled={busy} aria-busy={busy ? "true" : "false"}>
          {busy ? "Working…" : submitLabel}
        </button>
        <button type="button" class="button secondary" onClick={onClose} disabled={busy}>
          Cancel
        </button>
      </div>
    </form>
  );
}
