import { createHash, randomUUID } from "node:crypto";
import type { Database } from "@mypay/kit";
import { ApiKey, Merchant } from "./entities.ts";

/** SHA-256 of the key: lookups compare hashes, so timing reveals nothing about stored keys. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

export class KeyStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** The merchant an active key belongs to, or undefined for an unknown or revoked key. */
  async merchantFor(key: string): Promise<string | undefined> {
    const row = await this.#db.em().findOne(ApiKey, { keyHash: hashApiKey(key), revokedAt: null });
    return row?.merchantId;
  }

  /** Creates the merchant and registers `key` for it, unless both already exist. */
  async seed(merchantId: string, name: string, key: string): Promise<void> {
    const now = new Date();
    const em = this.#db.em();
    await em
      .createQueryBuilder(Merchant)
      .insert({ id: merchantId, name, createdAt: now })
      .onConflict("id")
      .ignore()
      .execute();
    await em
      .createQueryBuilder(ApiKey)
      .insert({
        id: `key_${randomUUID().replaceAll("-", "")}`,
        merchantId,
        keyHash: hashApiKey(key),
        prefix: key.slice(0, 20),
        createdAt: now,
        revokedAt: null,
      })
      .onConflict("keyHash")
      .ignore()
      .execute();
  }
}
