import type { PayoutUpdatedEvent } from "./events.ts";
import type { PayoutStatus } from "./types.ts";

/** Sample `payout.updated` events, one per payout status, for testing receivers without a mesh. */
export const WEBHOOK_FIXTURES = {
  "payout.pending": "PENDING",
  "payout.processing": "PROCESSING",
  "payout.success": "SUCCESS",
  "payout.failed": "FAILED",
  "payout.retry": "RETRY",
  "payout.on_hold": "ON_HOLD",
  "payout.in_review": "IN_REVIEW",
  "payout.cancelled": "CANCELLED",
} as const satisfies Record<string, PayoutStatus>;

/** A fixture's name, e.g. `"payout.success"`. */
export type WebhookFixtureName = keyof typeof WEBHOOK_FIXTURES;

/**
 * Builds a realistic `payout.updated` event for a fixture. `overrides` sets dotted paths
 * (`{"data.amount": "5.00"}`); strings are converted to the type of the field they replace, and the
 * top-level `status`, `payoutId` and `pspReference` follow `data` unless overridden themselves.
 * Throws `RangeError` for an unknown fixture or a path that does not exist.
 */
export function webhookFixture(
  name: WebhookFixtureName | string,
  overrides: Record<string, unknown> = {},
  now = new Date(),
): PayoutUpdatedEvent {
  const status = (WEBHOOK_FIXTURES as Record<string, PayoutStatus>)[name];
  if (!status) {
    throw new RangeError(`unknown fixture ${name}; one of ${Object.keys(WEBHOOK_FIXTURES).join(", ")}`);
  }
  const suffix = crypto.randomUUID().replaceAll("-", "").slice(0, 20);
  const payoutId = `po_test_${suffix}`;
  const created = new Date(now.getTime() - 2_000).toISOString();
  const at = now.toISOString();
  const paid = status === "SUCCESS";
  const failed = status === "FAILED";
  const event: PayoutUpdatedEvent = {
    id: `evt_test_${suffix}`,
    type: "payout.updated",
    event: "payout.updated",
    payoutId,
    status,
    pspReference: paid ? `PSP${suffix.slice(0, 12).toUpperCase()}` : null,
    timestamp: at,
    data: {
      id: payoutId,
      status,
      amount: "1000.00",
      currency: "PKR",
      merchantReference: `order-${suffix.slice(0, 8)}`,
      destType: "BANK",
      bankCode: "HBL",
      accountNumber: failed ? "1234560003" : status === "ON_HOLD" ? "1234560005" : "1234560001",
      accountTitle: "Ali Khan",
      pspReference: paid ? `PSP${suffix.slice(0, 12).toUpperCase()}` : null,
      failureCode: failed ? "ACCOUNT_CLOSED" : null,
      failureMessage: failed ? "The destination account is closed." : null,
      attempts: status === "PENDING" || status === "IN_REVIEW" || status === "CANCELLED" ? 0 : 1,
      createdAt: created,
      updatedAt: at,
      processedAt: paid || failed ? at : null,
    },
  };
  for (const [path, value] of Object.entries(overrides)) setPath(event, path, value);
  if (!("status" in overrides)) event.status = event.data.status;
  if (!("payoutId" in overrides)) event.payoutId = event.data.id;
  if (!("pspReference" in overrides)) event.pspReference = event.data.pspReference;
  return event;
}

function setPath(target: object, path: string, value: unknown): void {
  const keys = path.split(".");
  let node = target as Record<string, unknown>;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== "object" || next === null) throw new RangeError(`no field ${path} in the event`);
    node = next as Record<string, unknown>;
  }
  const last = keys.at(-1)!;
  if (!(last in node)) throw new RangeError(`no field ${path} in the event`);
  node[last] = coerce(node[last], value);
}

/** A CLI string takes the type of the field it replaces: `"3"` for a number, `"null"` for null. */
function coerce(current: unknown, value: unknown): unknown {
  if (typeof value !== "string") return value;
  if (value === "null") return null;
  if (typeof current === "number") {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new RangeError(`"${value}" is not a number`);
    return n;
  }
  if (typeof current === "boolean") return value === "true";
  return value;
}
