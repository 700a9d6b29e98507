/**
 * Random ids from `crypto.getRandomValues`, which every runtime has, where `crypto.randomUUID` is
 * missing from browser pages not served from a secure context (a console opened at http://<LAN address>).
 */

function randomBytes(count: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(count));
}

/** 32 lowercase hex characters (128 random bits). */
export function randomHex(): string {
  return Array.from(randomBytes(16), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * A fresh idempotency key (a random UUID v4). Keep it with the request and send it again when you
 * retry, so one logical create never happens twice.
 */
export function newIdempotencyKey(): string {
  const bytes = randomBytes(16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x40; // version 4
  bytes[8] = (bytes[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
