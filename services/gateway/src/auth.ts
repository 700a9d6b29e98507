import { timingSafeEqual } from "node:crypto";
import { appError, Code, Reason } from "@mypay/kit";
import { hashApiKey, type KeyRecord, type KeyStore } from "./store/key-store.ts";

/** Who is calling: a merchant's key, or the operations (admin) key. */
export interface Caller {
  merchantId: string;
  keyId: string;
}

const ADMIN_PREFIX = "mypay_admin_";
const MAX_KEY_LENGTH = 200;

function unauthenticated(message: string) {
  return appError(Code.Unauthenticated, Reason.UNAUTHENTICATED, message);
}

/**
 * Resolves API keys. Keys are looked up by their SHA-256 hash, so the time taken says nothing about
 * stored keys; the admin key is compared hash to hash with `timingSafeEqual`. Admin keys are never
 * merchant keys and merchant keys never admin keys.
 *
 * A resolved merchant key is trusted for at most `cacheMs` (≤ 1 s) in this process; revoking through
 * this process drops it at once, and other replicas see the revocation within `cacheMs`.
 */
export class Authenticator {
  readonly #keys: KeyStore;
  readonly #adminHash: Buffer;
  readonly #adminKeyId: string;
  readonly #cacheMs: number;
  readonly #cache = new Map<string, { record: KeyRecord; until: number }>();
  readonly #lookups = new Map<string, Promise<KeyRecord | undefined>>();

  constructor(keys: KeyStore, adminKey: string, cacheMs: number) {
    this.#keys = keys;
    const adminHash = hashApiKey(adminKey);
    this.#adminHash = Buffer.from(adminHash, "hex");
    this.#adminKeyId = `adm_${adminHash.slice(0, 12)}`;
    this.#cacheMs = cacheMs;
  }

  /** The merchant behind a merchant key; UNAUTHENTICATED with one message for every bad key. */
  async merchantFor(apiKey: string | null | undefined): Promise<Caller> {
    if (!apiKey) throw unauthenticated("Send your API key in the X-API-KEY header.");
    if (apiKey.length > MAX_KEY_LENGTH || apiKey.startsWith(ADMIN_PREFIX)) {
      throw unauthenticated("The API key is not valid.");
    }
    const hash = hashApiKey(apiKey);
    const now = Date.now();
    const cached = this.#cache.get(hash);
    if (cached && cached.until > now) return { merchantId: cached.record.merchantId, keyId: cached.record.id };
    let lookup = this.#lookups.get(hash);
    if (!lookup) {
      // Concurrent requests with one key share one database read (when its cache entry expires under
      // load, every request in flight would otherwise ask at once).
      lookup = this.#keys.findActive(hash).finally(() => this.#lookups.delete(hash));
      this.#lookups.set(hash, lookup);
    }
    const record = await lookup;
    if (!record) {
      this.#cache.delete(hash);
      throw unauthenticated("The API key is not valid.");
    }
    if (this.#cacheMs > 0) {
      if (this.#cache.size > 10_000) this.#cache.clear();
      this.#cache.set(hash, { record, until: now + this.#cacheMs });
    }
    return { merchantId: record.merchantId, keyId: record.id };
  }

  /** The admin key's id (for the audit trail); UNAUTHENTICATED for anything else, merchant keys included. */
  adminFor(apiKey: string | null | undefined): string {
    if (!apiKey) throw unauthenticated("Send the admin API key in the X-API-KEY header.");
    const given = Buffer.from(hashApiKey(apiKey.slice(0, MAX_KEY_LENGTH + 1)), "hex");
    if (!timingSafeEqual(given, this.#adminHash)) throw unauthenticated("The admin API key is not valid.");
    return this.#adminKeyId;
  }

  /** Forgets a revoked key at once in this process. */
  forgetKey(keyId: string): void {
    for (const [hash, entry] of this.#cache) if (entry.record.id === keyId) this.#cache.delete(hash);
  }
}
