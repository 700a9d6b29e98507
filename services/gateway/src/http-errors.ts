import { Code, errorDetails, Reason } from "@mypay/kit";

/** The REST error body: `{"error":{type,code,message,param?,requestId}}`. */
export interface HttpError {
  status: number;
  type: string;
  code: string;
  message: string;
  param?: string;
  /** Response headers that belong to the error (e.g. Retry-After); not part of the body. */
  headers?: Record<string, string>;
}

/** One table from RPC code (and domain reason) to HTTP status and error type. */
const BY_CODE: Partial<Record<Code, { status: number; type: string }>> = {
  [Code.InvalidArgument]: { status: 400, type: "invalid_request_error" },
  [Code.Unauthenticated]: { status: 401, type: "authentication_error" },
  [Code.PermissionDenied]: { status: 403, type: "permission_error" },
  [Code.NotFound]: { status: 404, type: "invalid_request_error" },
  [Code.AlreadyExists]: { status: 409, type: "invalid_request_error" },
  [Code.Aborted]: { status: 409, type: "idempotency_error" },
  [Code.FailedPrecondition]: { status: 409, type: "invalid_request_error" },
  [Code.ResourceExhausted]: { status: 429, type: "rate_limit_error" },
  [Code.Unimplemented]: { status: 501, type: "api_error" },
  [Code.Unavailable]: { status: 503, type: "api_error" },
  [Code.DeadlineExceeded]: { status: 504, type: "api_error" },
};

/** Domain reasons that refine the code's status. */
const BY_REASON: Record<string, { status: number; type: string; retryAfter?: string }> = {
  [Reason.IDEMPOTENCY_MISMATCH]: { status: 422, type: "idempotency_error" },
  [Reason.IDEMPOTENCY_IN_PROGRESS]: { status: 409, type: "idempotency_error" },
  [Reason.INSUFFICIENT_FUNDS]: { status: 422, type: "invalid_request_error" },
  [Reason.ILLEGAL_TRANSITION]: { status: 409, type: "invalid_request_error" },
  [Reason.HOLD_ALREADY_FINAL]: { status: 409, type: "invalid_request_error" },
  [Reason.ENDPOINT_DISABLED]: { status: 409, type: "invalid_request_error" },
  [Reason.REQUEST_ABANDONED]: { status: 422, type: "idempotency_error" },
  [Reason.BACKLOG_FULL]: { status: 503, type: "api_error", retryAfter: "1" },
};

/** `NotFound` → `not_found`: the code for errors that carry no domain reason. */
function snake(name: string): string {
  return name.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** Maps any error from a downstream call to what a REST client is told. Unknown errors say nothing inside. */
export function toHttpError(err: unknown): HttpError {
  const raw = errorDetails(err);
  // A connection reset mid-call surfaces as ABORTED with no decision behind it, and a stream the dying or
  // overrun downstream reset as CANCELED: the call may or may not have been applied, so the client is told
  // to retry (with the same idempotency key), not that it conflicted or that something broke inside.
  const details =
    !raw.decided && (raw.code === Code.Aborted || raw.code === Code.Canceled)
      ? { ...raw, code: Code.Unavailable, reason: Code[Code.Unavailable], message: "A service was unreachable; retry." }
      : raw;
  const mapped = BY_REASON[details.reason] ?? BY_CODE[details.code];
  if (!mapped) {
    return { status: 500, type: "api_error", code: "internal_error", message: "An internal error occurred." };
  }
  const codeName = Code[details.code];
  let code = details.reason === codeName ? snake(codeName) : details.reason.toLowerCase();
  let message = details.message;
  if (details.code === Code.Unimplemented) {
    code = "not_implemented";
    message = "This operation is not available yet.";
  }
  const retryAfter =
    (mapped as { retryAfter?: string }).retryAfter ?? (details.code === Code.ResourceExhausted ? "1" : "");
  return {
    status: mapped.status,
    type: mapped.type,
    code,
    message,
    ...(details.field ? { param: details.field } : {}),
    ...(retryAfter ? { headers: { "retry-after": retryAfter } } : {}),
  };
}

/** A client error raised at the edge, before any downstream call. */
export function badRequest(status: number, code: string, message: string, param?: string): HttpError {
  const type = status === 401 ? "authentication_error" : "invalid_request_error";
  return { status, type, code, message, ...(param ? { param } : {}) };
}

export class HttpErrorResponse extends Error {
  readonly error: HttpError;

  constructor(error: HttpError) {
    super(error.message);
    this.error = error;
  }
}
