/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): each delivery carries
 * `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256>` over
 * `{id}.{timestamp}.{body}`, keyed by the base64-decoded part of the endpoint's `whsec_` secret.
 */
import { createHmac, randomBytes } from "node:crypto";

export const SECRET_PREFIX = "whsec_";

/** Random key bytes in a new secret; Standard Webhooks accepts 24 to 64. */
const SECRET_BYTES = 32;

/** A new endpoint secret: `whsec_` + base64 of 32 random bytes (within the standard's 24–64). */
export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(SECRET_BYTES).toString("base64");
}

/** The secrets that sign at `now`: the current one, and the previous one until its grace period ends. */
export function signingSecrets(
  current: string,
  previous: string | undefined,
  previousExpiresAt: Date | undefined,
  now: Date,
): string[] {
  return previous !== undefined && previousExpiresAt !== undefined && previousExpiresAt > now
    ? [current, previous]
    : [current];
}

/** The HMAC key of a `whsec_` secret. Throws on anything else, so a corrupt secret never signs. */
export function secretKey(secret: string): Buffer {
  if (!secret.startsWith(SECRET_PREFIX)) throw new Error(`webhook secret must start with ${SECRET_PREFIX}`);
  const key = Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");
  if (key.length === 0) throw new Error("webhook secret has an empty key");
  return key;
}

/** One `v1,<base64>` signature of `body` for message `messageId` sent at `timestamp` (unix seconds). */
export function sign(secret: string, messageId: string, timestamp: number, body: string): string {
  const mac = createHmac("sha256", secretKey(secret)).update(`${messageId}.${timestamp}.${body}`).digest("base64");
  return `v1,${mac}`;
}

export interface SignedHeadersInput {
  /** Stable across retries: receivers deduplicate on it. */
  messageId: string;
  /** Unix seconds of this attempt. */
  timestamp: number;
  body: string;
  /** The endpoint's current secret first; during a rotation, the previous ones too. */
  secrets: readonly string[];
}

/** The Standard Webhooks headers of one delivery attempt; several secrets give space-separated signatures. */
export function webhookHeaders(input: SignedHeadersInput): Record<string, string> {
  if (input.secrets.length === 0) throw new Error("at least one secret is needed to sign a webhook");
  return {
    "webhook-id": input.messageId,
    "webhook-timestamp": String(input.timestamp),
    "webhook-signature": input.secrets.map((s) => sign(s, input.messageId, input.timestamp, input.body)).join(" "),
  };
}
