/** Internal headers the gateway sets on every downstream call. Internal services trust them. */
export const MERCHANT_HEADER = "mypay-merchant-id";
export const REQUEST_ID_HEADER = "x-request-id";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Whether a caller-supplied request id is safe to echo and log. */
export function isValidRequestId(value: string | null | undefined): value is string {
  return typeof value === "string" && REQUEST_ID.test(value);
}
