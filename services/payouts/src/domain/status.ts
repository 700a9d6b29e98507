/** Payout states as stored. Names match the seed system and the REST API. */
export const Status = {
  PENDING: "PENDING",
  PROCESSING: "PROCESSING",
  SUCCESS: "SUCCESS",
  FAILED: "FAILED",
  RETRY: "RETRY",
  ON_HOLD: "ON_HOLD",
  IN_REVIEW: "IN_REVIEW",
  CANCELLED: "CANCELLED",
} as const;
export type Status = (typeof Status)[keyof typeof Status];

/** Every allowed transition (DESIGN §4). Anything else is illegal. */
const ALLOWED: Record<Status, readonly Status[]> = {
  PENDING: [Status.PROCESSING, Status.IN_REVIEW, Status.CANCELLED],
  PROCESSING: [Status.SUCCESS, Status.FAILED, Status.RETRY, Status.ON_HOLD, Status.PENDING],
  RETRY: [Status.PROCESSING],
  IN_REVIEW: [Status.PENDING, Status.FAILED, Status.CANCELLED],
  ON_HOLD: [Status.PENDING, Status.FAILED, Status.CANCELLED],
  SUCCESS: [],
  FAILED: [],
  CANCELLED: [],
};

export function canTransition(from: Status, to: Status): boolean {
  return ALLOWED[from].includes(to);
}

export function isFinal(status: Status): boolean {
  return ALLOWED[status].length === 0;
}

/** States a payout can still leave: PENDING, PROCESSING, RETRY, ON_HOLD, IN_REVIEW. */
export const OPEN_STATUSES: readonly Status[] = Object.values(Status).filter((s) => !isFinal(s));

/** What the ledger must do to the payout's hold when it enters `status`. */
export function fundsActionFor(status: Status): "capture" | "release" | undefined {
  if (status === Status.SUCCESS) return "capture";
  if (status === Status.FAILED || status === Status.CANCELLED) return "release";
  return undefined;
}
