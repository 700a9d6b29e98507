import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorInfoSchema } from "@mypay/proto/google/rpc/error_details";

export { Code, ConnectError };

/** Domain of every ErrorInfo we emit. */
export const ERROR_DOMAIN = "mypay.dev";

/** Machine-readable reasons carried in the ErrorInfo detail. One home for the vocabulary. */
export const Reason = {
  INVALID_ARGUMENT: "INVALID_ARGUMENT",
  NOT_FOUND: "NOT_FOUND",
  INSUFFICIENT_FUNDS: "INSUFFICIENT_FUNDS",
  HOLD_ALREADY_FINAL: "HOLD_ALREADY_FINAL",
  IDEMPOTENCY_MISMATCH: "IDEMPOTENCY_MISMATCH",
  IDEMPOTENCY_IN_PROGRESS: "IDEMPOTENCY_IN_PROGRESS",
  UNAUTHENTICATED: "UNAUTHENTICATED",
  UNAVAILABLE: "UNAVAILABLE",
  INTERNAL: "INTERNAL",
  /** A bounded backlog is full: retry later (RESOURCE_EXHAUSTED; REST 503 with Retry-After). */
  BACKLOG_FULL: "BACKLOG_FULL",
  /** The payout's status does not allow the operation (FAILED_PRECONDITION; metadata.currentStatus). */
  ILLEGAL_TRANSITION: "ILLEGAL_TRANSITION",
  /** Failure code of a payout rejected in review. */
  REVIEW_REJECTED: "REVIEW_REJECTED",
  /** A create that crashed mid-way was given up and its hold released; the key cannot be reused. */
  REQUEST_ABANDONED: "REQUEST_ABANDONED",
  /** A webhook message cannot be replayed to a disabled or deleted endpoint. */
  ENDPOINT_DISABLED: "ENDPOINT_DISABLED",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

export interface ErrorDetails {
  reason: string;
  /** The request field at fault, as the caller named it (camelCase). */
  field?: string;
  metadata?: Record<string, string>;
}

/** Builds an error that crosses the wire as a Connect/gRPC code plus an ErrorInfo detail. */
export function appError(code: Code, reason: string, message: string, extra: Omit<ErrorDetails, "reason"> = {}) {
  const metadata: Record<string, string> = { ...extra.metadata };
  if (extra.field) metadata.field = extra.field;
  return new ConnectError(message, code, undefined, [
    { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain: ERROR_DOMAIN, metadata }) },
  ]);
}

/** INVALID_ARGUMENT naming the field at fault. */
export function invalidArgument(field: string, message: string) {
  return appError(Code.InvalidArgument, Reason.INVALID_ARGUMENT, `${field}: ${message}`, { field });
}

export function notFound(what: string) {
  return appError(Code.NotFound, Reason.NOT_FOUND, `${what} not found`);
}

/** Reads the ErrorInfo of any error (a ConnectError from the wire or a local one). */
export function errorDetails(err: unknown): ErrorDetails & { code: Code; message: string; decided: boolean } {
  const ce = ConnectError.from(err);
  const info = ce.findDetails(ErrorInfoSchema)[0];
  const { field, ...metadata } = info?.metadata ?? {};
  return {
    code: ce.code,
    message: ce.rawMessage,
    // Only our own services attach ErrorInfo in our domain: such an error is a decision, not a transport
    // failure (a reset connection, for one, also surfaces as ABORTED but decided nothing).
    decided: info?.domain === ERROR_DOMAIN,
    reason: info?.reason ?? Code[ce.code] ?? Reason.INTERNAL,
    ...(field ? { field } : {}),
    metadata,
  };
}
