import { MyPayError } from "@mypay/sdk";
import type { ComponentChildren } from "preact";
import type { AsyncState } from "../use-async.ts";

/** A human sentence for any failure, with the gateway's request id when there is one (quote it to support). */
export function describeError(error: unknown): { message: string; detail: string | null } {
  if (error instanceof MyPayError) {
    const detail = [error.code, error.requestId ? `request ${error.requestId}` : null].filter(Boolean).join(" · ");
    return { message: error.message, detail: detail || null };
  }
  return { message: error instanceof Error ? error.message : String(error), detail: null };
}

/** An error as an alert, announced to screen readers, with a retry when one makes sense. */
export function ErrorBox({ error, onRetry }: { error: unknown; onRetry?: () => void }) {
  const { message, detail } = describeError(error);
  return (
    <div class="error-box" role="alert">
      <p>
        <strong>Something went wrong:</strong> {message}
      </p>
      {detail && <p class="muted small">{detail}</p>}
      {onRetry && (
        <button type="button" class="button secondary" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}

/** The placeholder while a request is in flight; `label` says what is loading. */
export function Loading({ label }: { label: string }) {
  return (
    <div class="loading" role="status" aria-live="polite">
      <span class="spinner" aria-hidden="true" />
      Loading {label}…
    </div>
  );
}

/**
 * Renders a request's loading and error states, and `children(data)` once it has answered. A failed
 * live refresh keeps the data and says so above it.
 */
export function AsyncBlock<T>({
  state,
  label,
  onRetry,
  children,
}: {
  state: AsyncState<T>;
  label: string;
  onRetry?: () => void;
  children: (data: T) => ComponentChildren;
}) {
  if (state.status === "loading") return <Loading label={label} />;
  if (state.status === "error") return <ErrorBox error={state.error} {...(onRetry ? { onRetry } : {})} />;
  return (
    <div aria-busy={state.refreshing ? "true" : "false"}>
      {state.refreshError !== null && (
        <p class="warning small" role="status">
          Could not refresh {label}: {describeError(state.refreshError).message}. Showing the last answer.
        </p>
      )}
      {children(state.data)}
    </div>
  );
}
