import { createHash } from "node:crypto";

/**
 * Identifies a merchant's idempotency key, byte for byte (the database compares the key column by its
 * collation, which may ignore case): 24 URL-safe characters of SHA-256 over merchant and key. Compared
 * without case, as the digest column itself may be, that still leaves about 120 bits.
 */
export function keyDigest(merchantId: string, idempotencyKey: string): string {
  return createHash("sha256").update(`${merchantId}\u0000${idempotencyKey}`).digest("base64url").slice(0, 24);
}
