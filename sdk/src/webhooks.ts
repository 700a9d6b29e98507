/**
 * Standard Webhooks verification for MyPay webhooks, with no import of a runtime's own module, so it
 * runs unchanged in Node, Deno, Bun, browsers and edge workers: Node's crypto where the runtime hands it
 * out, Web Crypto elsewhere.
 */

import type { WebhookEvent } from "./events.ts";

/** Why a webhook was rejected; `message` says exactly what was wrong. */
export class WebhookVerificationError extends Error {
  override name = "WebhookVerificationError";
}

/** Request headers as a `Headers` object or a plain object (Node's `req.headers`, Express, …). */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/** Options of {@link verifyWebhook}. */
export interface VerifyOptions {
  /** How far the signed timestamp may be from now, in seconds (default 300). */
  toleranceSeconds?: number;
  /** Current time in unix seconds; for tests. */
  nowSeconds?: number;
}

const encoder = new TextEncoder();

function headerOf(headers: WebhookHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const value = headers[name] ?? headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

function base64ToBytes(text: string): Uint8Array<ArrayBuffer> {
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    throw new WebhookVerificationError("the secret is not whsec_ followed by base64");
  }
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

/** Compares two strings in time independent of where they first differ. */
function timingSafeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** The part of Node's crypto module that signing uses. */
interface NodeHmac {
  createHmac(algorithm: "sha256", key: Uint8Array): { update(data: string): { digest(encoding: "base64"): string } };
}

/**
 * Node's crypto module where the runtime hands it out without an import (Node.js, Bun). Its HMAC runs in
 * the caller's thread at a quarter of the CPU of Web Crypto's or less, which runs every call as a job on
 * a worker thread; elsewhere signing falls back to Web Crypto.
 */
const nodeCrypto = (
  globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }
).process?.getBuiltinModule?.("node:crypto") as NodeHmac | undefined;

/**
 * Signs a webhook: `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` for a `whsec_…` secret,
 * as the `webhook-signature` header carries it. Throws WebhookVerificationError for a malformed secret.
 */
export async function signWebhook(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const content = `${id}.${timestamp}.${body}`;
  const key = signingKey(secret);
  if (nodeCrypto) return `v1,${nodeCrypto.createHmac("sha256", key.raw).update(content).digest("base64")}`;
  key.web ??= crypto.subtle.importKey("raw", key.raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = await crypto.subtle.sign("HMAC", await key.web, encoder.encode(content));
  return `v1,${bytesToBase64(new Uint8Array(mac))}`;
}

type HmacKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;

/** A secret's key bytes and, once Web Crypto has signed with it, its imported key. */
interface SigningKey {
  raw: Uint8Array<ArrayBuffer>;
  web?: Promise<HmacKey>;
}

/** Keys by secret: a receiver verifies many webhooks with the same secrets. */
const keys = new Map<string, SigningKey>();
/**
 * Secrets kept at most (past it the cache starts again). A receiver of many endpoints' webhooks decodes
 * each secret once: with 32 kept, 50 secrets in turn cost 70 % more CPU per verification.
 */
const MAX_KEYS = 1_024;

function signingKey(secret: string): SigningKey {
  if (!secret.startsWith("whsec_")) throw new WebhookVerificationError("the secret must start with whsec_");
  let key = keys.get(secret);
  if (!key) {
    key = { raw: base64ToBytes(secret.slice(6)) };
    if (keys.size >= MAX_KEYS) keys.clear();
    keys.set(secret, key);
  }
  return key;
}

/**
 * Verifies a webhook and returns its parsed JSON body (a {@link WebhookEvent} unless you say otherwise).
 * Pass the raw body exactly as received (string or bytes, never a parsed object); `secrets` may hold
 * several during a rotation. Throws WebhookVerificationError saying why: missing header, timestamp not
 * unix seconds, too old or in the future (beyond `toleranceSeconds`, default 300), no matching signature,
 * or a parsed body. Signatures are compared in constant time.
 */
export async function verifyWebhook<T = WebhookEvent>(
  rawBody: string | Uint8Array,
  headers: WebhookHeaders,
  secrets: string | string[],
  options: VerifyOptions = {},
): Promise<T> {
  if (typeof rawBody !== "string" && !(rawBody instanceof Uint8Array)) {
    throw new WebhookVerificationError("pass the raw request body (string or bytes), not a parsed object");
  }
  const body = typeof rawBody === "string" ? rawBody : new TextDecoder().decode(rawBody);
  const id = headerOf(headers, "webhook-id");
  const timestamp = headerOf(headers, "webhook-timestamp");
  const signatures = headerOf(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  const seconds = Number(timestamp);
  if (!/^\d{1,12}$/.test(timestamp) || !Number.isSafeInteger(seconds)) {
    throw new WebhookVerificationError("webhook-timestamp is not unix seconds");
  }
  const now = options.nowSeconds ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? 300;
  if (seconds < now - tolerance) throw new WebhookVerificationError("webhook-timestamp is too old");
  if (seconds > now + tolerance) throw new WebhookVerificationError("webhook-timestamp is in the future");
  const given = signatures.split(" ").filter((s) => s.startsWith("v1,"));
  for (const secret of Array.isArray(secrets) ? secrets : [secrets]) {
    const expected = await signWebhook(secret, id, seconds, body);
    if (given.some((signature) => timingSafeEqual(signature, expected))) return JSON.parse(body) as T;
  }
  throw new WebhookVerificationError("no signature matches the secret");
}

/** Options of {@link generateTestHeaders}. */
export interface TestHeaderOptions {
  /** `webhook-id`; a fresh `msg_…` when omitted. */
  id?: string;
  /** Unix seconds; now when omitted. */
  timestamp?: number;
}

/**
 * Headers a MyPay delivery of `body` would carry, signed with `secret`: for partners' own tests of
 * their receivers. Pass the exact string you will send as the body.
 */
export async function generateTestHeaders(
  body: string,
  secret: string,
  options: TestHeaderOptions = {},
): Promise<{ "webhook-id": string; "webhook-timestamp": string; "webhook-signature": string }> {
  const id = options.id ?? `msg_${crypto.randomUUID().replaceAll("-", "")}`;
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": await signWebhook(secret, id, timestamp, body),
  };
}

/** The webhook helpers as one object: `webhooks.verify(rawBody, headers, secret)`. */
export const webhooks = {
  verify: verifyWebhook,
  sign: signWebhook,
  generateTestHeaders,
} as const;
