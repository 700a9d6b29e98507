import { createHash } from "node:crypto";
import { createLogger, type Database, openDatabase, testStorage } from "@mypay/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Authenticator } from "./auth.ts";
import { entities } from "./store/entities.ts";
import { hashApiKey, KeyStore } from "./store/key-store.ts";
import { migrations } from "./store/migrations/index.ts";

const ADMIN_KEY = "mypay_admin_0123456789abcdef01234567";

/**
 * Key comparison must not tell an attacker how close a guess is. Both paths compare fixed-length
 * SHA-256 digests, never the keys: merchant keys are looked up by digest (the database never holds a
 * key), the admin key is compared digest to digest in constant time. The timing check below is
 * deliberately tolerant (medians of interleaved batches within 25 %): it catches a path whose cost
 * depends on the guess (an early exit, a cache or lookup that near-misses reach), not nanoseconds.
 */
describe("Authenticator", () => {
  let db: Database;
  let keys: KeyStore;

  beforeAll(async () => {
    const logger = createLogger("gateway-test", "silent");
    db = await openDatabase({ service: "gateway", settings: testStorage(), entities, migrations, logger });
    keys = new KeyStore(db);
  });

  afterAll(async () => {
    if (db?.kind !== "sqlite") await db?.orm.schema.dropDatabase();
    await db?.close();
  });

  it("digests keys as lower-case hex SHA-256 of their UTF-8 bytes (what stored digests were made with)", () => {
    expect(hashApiKey("abc")).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(hashApiKey("ü")).toBe(createHash("sha256").update("ü", "utf8").digest("hex"));
  });

  it("stores and looks up merchant keys only by their SHA-256 digest", async () => {
    await keys.createMerchant("mch_auth", "Auth");
    const made = await keys.createKey("mch_auth");
    const auth = new Authenticator(keys, ADMIN_KEY, 0);
    expect(await auth.merchantFor(made.key)).toMatchObject({ merchantId: "mch_auth", keyId: made.id });
    const rows = await db.em().getConnection().execute<Record<string, unknown>[]>("select * from api_keys");
    const stored = JSON.stringify(rows);
    expect(stored).not.toContain(made.key.slice("mypay_test_".length));
    expect(stored).toContain(hashApiKey(made.key));
    // A near miss and a wild guess fail alike.
    const nearMiss = `${made.key.slice(0, -1)}${made.key.endsWith("0") ? "1" : "0"}`;
    for (const guess of [nearMiss, "mypay_test_x", "x".repeat(200), "x".repeat(201)]) {
      await expect(auth.merchantFor(guess)).rejects.toThrow("The API key is not valid.");
    }
  });

  it("accepts only the admin key, whatever the guess looks like", () => {
    const auth = new Authenticator(keys, ADMIN_KEY, 0);
    expect(auth.adminFor(ADMIN_KEY)).toMatch(/^adm_[0-9a-f]{12}$/);
    for (const guess of [
      `${ADMIN_KEY.slice(0, -1)}8`,
      `${ADMIN_KEY}0`,
      ADMIN_KEY.slice(0, -1),
      "",
      "a".repeat(10_000),
    ]) {
      expect(() => auth.adminFor(guess)).toThrow(/API key/);
    }
  });

  it("takes as long to refuse a near miss of the admin key as a guess that shares nothing with it", () => {
    const auth = new Authenticator(keys, ADMIN_KEY, 0);
    const guesses = {
      nearMiss: `${ADMIN_KEY.slice(0, -1)}8`,
      farMiss: `x${"y".repeat(ADMIN_KEY.length - 1)}`,
    };
    const batch = (guess: string) => {
      const started = process.hrtime.bigint();
      for (let i = 0; i < 200; i++) {
        try {
          auth.adminFor(guess);
        } catch {
          // refused, as expected
        }
      }
      return Number(process.hrtime.bigint() - started);
    };
    // Warm up the JIT on both paths first.
    for (let i = 0; i < 50; i++) {
      batch(guesses.nearMiss);
      batch(guesses.farMiss);
    }
    const near: number[] = [];
    const far: number[] = [];
    // Interleaved, so load from other processes falls on both alike.
    for (let i = 0; i < 301; i++) {
      near.push(batch(guesses.nearMiss));
      far.push(batch(guesses.farMiss));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const ratio = median(near) / median(far);
    console.log(`[auth] admin key refusal, near miss / far miss: ${ratio.toFixed(3)} (medians of 301 batches of 200)`);
    expect(ratio).toBeGreaterThan(0.8);
    expect(ratio).toBeLessThan(1.25);
  });
});
