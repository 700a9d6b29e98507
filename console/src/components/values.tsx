import type { PayoutStatus } from "@mypay/sdk";
import { formatMoney, formatTime } from "../format.ts";

/** An amount with its currency, in the viewer's locale; exact (the decimal string is never a float). */
export function Money({ amount, currency }: { amount: string; currency: string }) {
  return <span class="money">{formatMoney(amount, currency)}</span>;
}

/** A time in the viewer's locale, machine-readable in `datetime`. */
export function DateTime({ value }: { value: string | null | undefined }) {
  if (!value) return <span class="muted">—</span>;
  return <time dateTime={value}>{formatTime(value)}</time>;
}

const TONES: Record<string, string> = {
  SUCCESS: "good",
  ENABLED: "good",
  ACTIVE: "good",
  DISABLED: "neutral",
  REVOKED: "neutral",
  DELIVERED: "good",
  ready: "good",
  FAILED: "bad",
  DEAD: "bad",
  CANCELLED: "neutral",
  unreachable: "bad",
  not_ready: "warn",
  IN_REVIEW: "warn",
  ON_HOLD: "warn",
  RETRY: "warn",
};

/** A status as a coloured label; the text itself carries the meaning, colour only helps. */
export function StatusBadge({ status }: { status: PayoutStatus | string }) {
  return <span class={`badge ${TONES[status] ?? "info"}`}>{status.replace(/_/g, " ")}</span>;
}
