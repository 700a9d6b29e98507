import { randomUUID } from "node:crypto";

/** Internal headers the gateway sets on every downstream call. Internal services trust them. */
export const MERCHANT_HEADER = "mypay-merchant-id";
export const REQUEST_ID_HEADER = "x-request-id";
/** Who acted (`admin:<key id>`), for the audit trail of operations calls. */
export const ACTOR_HEADER = "mypay-actor";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Whether a caller-supplied request id is safe to echo and log. */
export function isValidRequestId(value: string | null | undefined): value is string {
  return typeof value === "string" && REQUEST_ID.test(value);
}

/** A fresh request id (`req_` + 32 hex digits). */
export function randomRequestId(): string {
  return `req_${randomUUID().replaceAll("-", "")}`;
}
