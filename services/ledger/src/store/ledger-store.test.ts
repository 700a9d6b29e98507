import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import {
  Code,
  createLogger,
  type Database,
  dropTestDatabases,
  errorDetails,
  openDatabase,
  Reason,
  testStorage,
} from "@mypay/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountKind, HoldState } from "../domain/accounts.ts";
import { entities } from "./entities.ts";
import { type LedgerObserver, LedgerStore, type OperationResult } from "./ledger-store.ts";
import { migrations } from "./migrations/index.ts";

const settings = testStorage();
const engine = settings.DATABASE_URL ? "MariaDB/MySQL" : "SQLite";

/** The error a rejected call carries, as a caller across the wire would read it. */
async function failure(call: Promise<unknown>) {
  try {
    await call;
  } catch (err) {
    return errorDetails(err);
  }
  throw new Error("expected the call to fail");
}

/** A fresh merchant per test, so tests share one database without seeing each other's money. */
const newMerchant = () => `m_${randomUUID().slice(0, 8)}`;
const newHold = () => `po_${randomUUID().replaceAll("-", "").slice(0, 24)}`;

describe(`LedgerStore on ${engine}`, () => {
  let db: Database;
  let store: LedgerStore;

  /** Rows of a raw query, with every value as the engine returned it. */
  const query = (sql: string, params: unknown[] = []) =>
    db.orm.em.getConnection().execute<Record<string, unknown>[]>(sql, params, "all");
  const big = (value: unknown) => BigInt(String(value ?? 0));

  /** Checks the double-entry invariants over the whole database with SQL of its own. */
  async function expectLedgerInvariants(): Promise<void> {
    const [total] = await query("select coalesce(sum(amount), 0) as total, count(*) as n from entries");
    expect(big(total?.total), "sum of all entries").toBe(0n);

    const drift = await query(
      `select a.id, a.balance, coalesce(sum(e.amount), 0) as entries
         from accounts a left join entries e on e.account_id = a.id
        group by a.id, a.balance
       having a.balance <> coalesce(sum(e.amount), 0)`,
    );
    expect(drift, "accounts whose balance differs from the sum of their entries").toEqual([]);

    const negative = await query(
      "select id, merchant_id, kind, balance from accounts where kind in (?, ?) and balance < 0",
      ["available", "locked"],
    );
    expect(negative, "merchant accounts below zero").toEqual([]);

    const unbalanced = await query(
      `select t.id from transfers t join entries e on e.transfer_id = t.id
        group by t.id, t.amount, t.debit_account_id, t.credit_account_id
       having count(*) <> 2 or sum(e.amount) <> 0
           or sum(case when e.account_id = t.debit_account_id and e.amount = -t.amount then 1 else 0 end) <> 1
           or sum(case when e.account_id = t.credit_account_id and e.amount = t.amount then 1 else 0 end) <> 1`,
    );
    expect(unbalanced, "transfers that are not exactly one debit and one equal credit").toEqual([]);
    const [orphans] = await query(
      "select count(*) as n from entries e left join transfers t on t.id = e.transfer_id where t.id is null",
    );
    expect(Number(orphans?.n), "entries without a transfer").toBe(0);

    const lockedMismatch = await query(
      `select a.merchant_id, a.currency, a.balance
         from accounts a
        where a.kind = 'locked'
          and a.balance <> (select coalesce(sum(h.amount), 0) from holds h
                             where h.merchant_id = a.merchant_id and h.currency = a.currency and h.status = 'PENDING')`,
    );
    expect(lockedMismatch, "locked balances that differ from the sum of pending holds").toEqual([]);

    const holdTransfers = await query(
      `select h.id, h.status,
              sum(case when t.idempotency_key = concat('hold:', h.id) then 1 else 0 end) as holds,
              sum(case when t.idempotency_key = concat('capture:', h.id) then 1 else 0 end) as captures,
              sum(case when t.idempotency_key = concat('release:', h.id) then 1 else 0 end) as releases
         from holds h left join transfers t on t.idempotency_key in (concat('hold:', h.id), concat('capture:', h.id), concat('release:', h.id))
        group by h.id, h.status`,
    );
    for (const row of holdTransfers) {
      const counts = [Number(row.holds), Number(row.captures), Number(row.releases)];
      const expected = { PENDING: [1, 0, 0], CAPTURED: [1, 1, 0], RELEASED: [1, 0, 1] }[String(row.status)];
      expect(counts, `transfers of hold ${row.id} (${row.status})`).toEqual(expected);
    }
    // The store's own proof must agree.
    expect(await store.verifyInvariants()).toMatchObject({ ok: true, violations: [] });
  }

  /** Transfers stored under a ledger key (`topup:<key>`, `hold:<id>`, `capture:<id>`, `release:<id>`). */
  async function transfersKeyed(key: string): Promise<number> {
    const [row] = await query("select count(*) as n from transfers where idempotency_key = ?", [key]);
    return Number(row?.n);
  }

  beforeAll(async () => {
    db = await openDatabase({
      service: "ledger",
      settings,
      entities,
      migrations,
      logger: createLogger("ledger-test", "silent"),
    });
    store = new LedgerStore(db);
  });

  afterAll(async () => {
    await db?.close();
    await dropTestDatabases(settings);
    rmSync(settings.DATA_DIR, { recursive: true, force: true });
  });

  describe("top-up and balance", () => {
    it("credits the merchant's available balance from the funding account", async () => {
      const m = newMerchant();
      expect(await store.topUp(m, "PKR", 1_000_000n, `topup:${m}:1`)).toEqual({
        merchantId: m,
        currency: "PKR",
        available: 1_000_000n,
        locked: 0n,
      });
      expect(await store.topUp(m, "PKR", 250n, `topup:${m}:2`)).toMatchObject({ available: 1_000_250n, locked: 0n });
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 1_000_250n, locked: 0n });
      await expectLedgerInvariants();
    });

    it("applies a repeated key once and rejects the key with other arguments", async () => {
      const m = newMerchant();
      const key = `topup:${m}`;
      await store.topUp(m, "PKR", 500n, key);
      expect(await store.topUp(m, "PKR", 500n, key)).toMatchObject({ available: 500n });
      const mismatch = await failure(store.topUp(m, "PKR", 501n, key));
      expect(mismatch).toMatchObject({ code: Code.Aborted, reason: Reason.IDEMPOTENCY_MISMATCH });
      expect(await failure(store.topUp(newMerchant(), "PKR", 500n, key))).toMatchObject({
        reason: Reason.IDEMPOTENCY_MISMATCH,
      });
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 500n, locked: 0n });
      expect(await transfersKeyed(`topup:${key}`)).toBe(1);
    });

    it("applies concurrent top-ups with one key exactly once", async () => {
      const m = newMerchant();
      const key = `topup:${m}`;
      const results = await Promise.allSettled(Array.from({ length: 20 }, () => store.topUp(m, "PKR", 700n, key)));
      expect(results.filter((r) => r.status === "rejected")).toEqual([]);
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 700n, locked: 0n });
      expect(await transfersKeyed(`topup:${key}`)).toBe(1);
      await expectLedgerInvariants();
    });

    it("keeps currencies apart and answers NOT_FOUND for a merchant or currency without accounts", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 100n, `topup:${m}:pkr`);
      await store.topUp(m, "USD", 7n, `topup:${m}:usd`);
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 100n });
      expect(await store.balance(m, "USD")).toMatchObject({ available: 7n });
      expect(await failure(store.balance(m, "EUR"))).toMatchObject({ code: Code.NotFound, reason: Reason.NOT_FOUND });
      expect(await failure(store.balance(newMerchant(), "PKR"))).toMatchObject({ code: Code.NotFound });
    });
  });

  describe("holds", () => {
    it("moves the amount from available to locked and records a pending hold", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 10_000n, `topup:${m}`);
      const holdId = newHold();
      const hold = await store.hold(m, holdId, "PKR", 2_500n);
      expect(hold).toMatchObject({
        id: holdId,
        merchantId: m,
        currency: "PKR",
        amount: 2_500n,
        status: HoldState.PENDING,
      });
      expect(hold.createdAt).toBeInstanceOf(Date);
      expect(await store.getHold(holdId)).toEqual(hold);
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 7_500n, locked: 2_500n });
      // A top-up answers with the whole balance, locked funds included.
      expect(await store.topUp(m, "PKR", 1n, `topup:${m}:2`)).toMatchObject({ available: 7_501n, locked: 2_500n });
      await expectLedgerInvariants();
    });

    it("returns the first hold for a repeated hold id with the same arguments, moving money once", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 10_000n, `topup:${m}`);
      const holdId = newHold();
      const first = await store.hold(m, holdId, "PKR", 1_000n);
      const again = await store.hold(m, holdId, "PKR", 1_000n);
      expect(again).toEqual(first);
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 9_000n, locked: 1_000n });
      expect(await transfersKeyed(`hold:${holdId}`)).toBe(1);
    });

    it("refuses a new hold once its caller's deadline has passed, holding nothing; a replay still answers", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 10_000n, `topup:${m}`);
      const late = newHold();
      const past = Date.now() - 1;
      expect(await failure(store.hold(m, late, "PKR", 1_000n, past))).toMatchObject({
        code: Code.DeadlineExceeded,
        reason: Reason.UNAVAILABLE,
      });
      expect(await store.getHold(late)).toBeUndefined();
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 10_000n, locked: 0n });
      // Nothing was recorded, so the id is free for a retry in time; once placed, a late replay gets it back.
      const placed = await store.hold(m, late, "PKR", 1_000n, Date.now() + 60_000);
      expect(await store.hold(m, late, "PKR", 1_000n, past)).toEqual(placed);
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 9_000n, locked: 1_000n });
      await expectLedgerInvariants();
    });

    it.each<[string, { amount?: bigint; currency?: string; merchant?: string }]>([
      ["another amount", { amount: 1_001n }],
      ["another currency", { currency: "USD" }],
      ["another merchant", { merchant: "m_someone_else" }],
    ])("rejects a repeated hold id with %s as IDEMPOTENCY_MISMATCH", async (_name, change) => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 10_000n, `topup:${m}:pkr`);
      await store.topUp(m, "USD", 10_000n, `topup:${m}:usd`);
      const holdId = newHold();
      await store.hold(m, holdId, "PKR", 1_000n);
      const err = await failure(
        store.hold(change.merchant ?? m, holdId, change.currency ?? "PKR", change.amount ?? 1_000n),
      );
      expect(err).toMatchObject({ code: Code.Aborted, reason: Reason.IDEMPOTENCY_MISMATCH, field: "holdId" });
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 9_000n, locked: 1_000n });
      expect(await store.balance(m, "USD")).toMatchObject({ available: 10_000n, locked: 0n });
    });

    it("answers concurrent holds with one id with the same hold, moving money once", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 10_000n, `topup:${m}`);
      const holdId = newHold();
      const results = await Promise.allSettled(Array.from({ length: 12 }, () => store.hold(m, holdId, "PKR", 3_000n)));
      const rejected = results.filter((r) => r.status === "rejected").map((r) => errorDetails(r.reason));
      expect(rejected).toEqual([]);
      const holds = results.map((r) => (r.status === "fulfilled" ? r.value : undefined));
      for (const hold of holds) expect(hold).toEqual(holds[0]);
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 7_000n, locked: 3_000n });
      expect(await transfersKeyed(`hold:${holdId}`)).toBe(1);
      await expectLedgerInvariants();
    });

    it("fails INSUFFICIENT_FUNDS without any effect, and allows a hold of exactly the available amount", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 5_000n, `topup:${m}`);
      const [entriesBefore] = await query("select count(*) as n from entries");
      const tooMuch = newHold();
      const err = await failure(store.hold(m, tooMuch, "PKR", 5_001n));
      expect(err).toMatchObject({ code: Code.FailedPrecondition, reason: Reason.INSUFFICIENT_FUNDS, field: "amount" });
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 5_000n, locked: 0n });
      expect(await store.getHold(tooMuch)).toBeUndefined();
      expect(await transfersKeyed(`hold:${tooMuch}`)).toBe(0);
      const [entriesAfter] = await query("select count(*) as n from entries");
      expect(Number(entriesAfter?.n)).toBe(Number(entriesBefore?.n));

      // The failed id is not burnt: once funds arrive the same id can hold.
      await store.topUp(m, "PKR", 1n, `topup:${m}:2`);
      expect(await store.hold(m, tooMuch, "PKR", 5_001n)).toMatchObject({ status: HoldState.PENDING });
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 0n, locked: 5_001n });
      expect(await failure(store.hold(m, newHold(), "PKR", 1n))).toMatchObject({ reason: Reason.INSUFFICIENT_FUNDS });
      await expectLedgerInvariants();
    });

    it("answers NOT_FOUND for a merchant or currency without accounts", async () => {
      const m = newMerchant();
      expect(await failure(store.hold(m, newHold(), "PKR", 1n))).toMatchObject({
        code: Code.NotFound,
        reason: Reason.NOT_FOUND,
      });
      await store.topUp(m, "PKR", 10n, `topup:${m}`);
      expect(await failure(store.hold(m, newHold(), "USD", 1n))).toMatchObject({ code: Code.NotFound });
    });
  });

  describe("capture and release", () => {
    async function heldMerchant(amount = 4_000n) {
      const m = newMerchant();
      await store.topUp(m, "PKR", 10_000n, `topup:${m}`);
      const holdId = newHold();
      await store.hold(m, holdId, "PKR", amount);
      return { m, holdId };
    }

    it("capture moves locked to settlement once; a repeat returns the same hold; release then fails", async () => {
      const { m, holdId } = await heldMerchant();
      const captured = await store.capture(holdId);
      expect(captured).toMatchObject({ id: holdId, status: HoldState.CAPTURED, amount: 4_000n });
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 6_000n, locked: 0n });
      expect(await store.capture(holdId)).toEqual(captured);
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 6_000n, locked: 0n });
      const err = await failure(store.release(holdId));
      expect(err).toMatchObject({
        code: Code.FailedPrecondition,
        reason: Reason.HOLD_ALREADY_FINAL,
        metadata: { status: HoldState.CAPTURED },
      });
      expect(await store.getHold(holdId)).toEqual(captured);
      expect(await transfersKeyed(`capture:${holdId}`)).toBe(1);
      expect(await transfersKeyed(`release:${holdId}`)).toBe(0);
      await expectLedgerInvariants();
    });

    it("release moves locked back to available once; a repeat returns the same hold; capture then fails", async () => {
      const { m, holdId } = await heldMerchant();
      const released = await store.release(holdId);
      expect(released).toMatchObject({ id: holdId, status: HoldState.RELEASED, amount: 4_000n });
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 10_000n, locked: 0n });
      expect(await store.release(holdId)).toEqual(released);
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 10_000n, locked: 0n });
      const err = await failure(store.capture(holdId));
      expect(err).toMatchObject({
        code: Code.FailedPrecondition,
        reason: Reason.HOLD_ALREADY_FINAL,
        metadata: { status: HoldState.RELEASED },
      });
      expect(await transfersKeyed(`release:${holdId}`)).toBe(1);
      expect(await transfersKeyed(`capture:${holdId}`)).toBe(0);
      await expectLedgerInvariants();
    });

    it("a repeated hold id after capture or release returns the final hold without moving money", async () => {
      const { m, holdId } = await heldMerchant();
      await store.release(holdId);
      expect(await store.hold(m, holdId, "PKR", 4_000n)).toMatchObject({ status: HoldState.RELEASED });
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 10_000n, locked: 0n });
    });

    it("answers NOT_FOUND for an unknown hold", async () => {
      const missing = { code: Code.NotFound, reason: Reason.NOT_FOUND };
      expect(await failure(store.capture("po_missing"))).toMatchObject(missing);
      expect(await failure(store.release("po_missing"))).toMatchObject(missing);
      expect(await store.getHold("po_missing")).toBeUndefined();
    });

    it("lets exactly one of a concurrent capture and release of one hold win", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 1_000_000n, `topup:${m}`);
      const holdIds = Array.from({ length: 20 }, newHold);
      for (const holdId of holdIds) await store.hold(m, holdId, "PKR", 1_000n);
      let captures = 0;
      await Promise.all(
        holdIds.map(async (holdId, i) => {
          // Alternate which call starts first, and race repeats of both.
          const calls = i % 2 === 0 ? ["capture", "release", "capture"] : ["release", "capture", "release"];
          const results = await Promise.allSettled(
            calls.map((c) => (c === "capture" ? store.capture(holdId) : store.release(holdId))),
          );
          const final = await store.getHold(holdId);
          expect(final?.status).not.toBe(HoldState.PENDING);
          const winner = final?.status === HoldState.CAPTURED ? "capture" : "release";
          if (winner === "capture") captures++;
          results.forEach((result, j) => {
            if (calls[j] === winner) {
              expect(result.status, `${calls[j]} of ${holdId}`).toBe("fulfilled");
              if (result.status === "fulfilled") expect(result.value).toEqual(final);
            } else {
              expect(result.status, `${calls[j]} of ${holdId}`).toBe("rejected");
              if (result.status === "rejected") {
                expect(errorDetails(result.reason)).toMatchObject({ reason: Reason.HOLD_ALREADY_FINAL });
              }
            }
          });
        }),
      );
      const released = holdIds.length - captures;
      expect(await store.balance(m, "PKR")).toMatchObject({
        available: 1_000_000n - 20_000n + BigInt(released) * 1_000n,
        locked: 0n,
      });
      await expectLedgerInvariants();
    });
  });

  describe("under concurrency", () => {
    it("lets exactly 100 of 200 concurrent 100.00 holds against 10,000.00 succeed, without overdraft", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 1_000_000n, `topup:${m}`);
      const holdIds = Array.from({ length: 200 }, newHold);
      const results = await Promise.allSettled(holdIds.map((holdId) => store.hold(m, holdId, "PKR", 10_000n)));
      const failures = results.flatMap((r) => (r.status === "rejected" ? [errorDetails(r.reason)] : []));
      const unexpected = failures.filter((f) => f.reason !== Reason.INSUFFICIENT_FUNDS);
      expect(unexpected, "failures other than INSUFFICIENT_FUNDS").toEqual([]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(100);
      expect(failures).toHaveLength(100);
      expect(await store.balance(m, "PKR")).toEqual({
        merchantId: m,
        currency: "PKR",
        available: 0n,
        locked: 1_000_000n,
      });
      const held = holdIds.filter((_, i) => results[i]?.status === "fulfilled");
      for (const holdId of held) expect((await store.getHold(holdId))?.status).toBe(HoldState.PENDING);
      const [rows] = await query("select count(*) as n from holds where merchant_id = ?", [m]);
      expect(Number(rows?.n)).toBe(100);
      await expectLedgerInvariants();
    });

    it("keeps every invariant while holds, captures, releases and top-ups of one merchant interleave", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 500_000n, `topup:${m}:0`);
      const pending = Array.from({ length: 60 }, newHold);
      for (const holdId of pending) await store.hold(m, holdId, "PKR", 5_000n);
      // available 200,000: 60 more holds of 5,000 outrun it unless releases and top-ups land first.
      const calls: Array<() => Promise<unknown>> = [];
      pending.forEach((holdId, i) => {
        calls.push(() => (i % 2 === 0 ? store.capture(holdId) : store.release(holdId)));
        calls.push(() => store.hold(m, newHold(), "PKR", 5_000n));
      });
      for (let i = 1; i <= 10; i++) calls.push(() => store.topUp(m, "PKR", 3_000n, `topup:${m}:${i}`));
      // A fixed shuffle (i ↦ 7919·i mod 131 is a permutation), so every run interleaves the same way.
      const order = calls.map((_, i) => i).sort((a, b) => ((a * 7919) % 131) - ((b * 7919) % 131));
      const results = await Promise.allSettled(order.map((i) => calls[i]!()));
      const failures = results.flatMap((r) => (r.status === "rejected" ? [errorDetails(r.reason)] : []));
      const unexpected = failures.filter((f) => f.reason !== Reason.INSUFFICIENT_FUNDS);
      expect(unexpected, "failures other than INSUFFICIENT_FUNDS (deadlocks, lock timeouts …)").toEqual([]);
      for (const holdId of pending) expect((await store.getHold(holdId))?.status).not.toBe(HoldState.PENDING);
      const balance = await store.balance(m, "PKR");
      const [locked] = await query(
        "select coalesce(sum(amount), 0) as s from holds where merchant_id = ? and status = ?",
        [m, HoldState.PENDING],
      );
      expect(balance.locked).toBe(big(locked?.s));
      // Money in = 530,000; out to settlement = 30 captures of 5,000.
      expect(balance.available + balance.locked).toBe(530_000n - 150_000n);
      await expectLedgerInvariants();
    });
  });
  describe("group commit", () => {
    /** A store whose batches stay open long enough to gather every call of one tick, and that records them. */
    function recordingStore(options: { maxWaitMs?: number; concurrency?: number } = {}) {
      const batches: number[] = [];
      const operations: Array<[string, OperationResult]> = [];
      const observer: LedgerObserver = {
        operation: (op, result) => operations.push([op, result]),
        batch: (size) => batches.push(size),
        conflict() {},
        invariants() {},
      };
      const recorded = new LedgerStore(db, {
        observer,
        groupCommit: { maxWaitMs: options.maxWaitMs ?? 30, maxBatch: 64, concurrency: options.concurrency ?? 1 },
      });
      return { recorded, batches, operations };
    }

    it("commits concurrent holds in one transaction and isolates one insufficient hold from its neighbours", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 10_000n, `topup:${m}`);
      const { recorded, batches, operations } = recordingStore();
      const amounts = [1_000n, 1_000n, 1_000n, 1_000n, 20_000n, 1_000n, 1_000n, 1_000n, 1_000n, 1_000n];
      const results = await Promise.allSettled(amounts.map((amount) => recorded.hold(m, newHold(), "PKR", amount)));
      expect(batches).toEqual([10]);
      expect(results.map((r) => r.status)).toEqual(amounts.map((a) => (a === 20_000n ? "rejected" : "fulfilled")));
      expect(errorDetails((results[4] as PromiseRejectedResult).reason)).toMatchObject({
        code: Code.FailedPrecondition,
        reason: Reason.INSUFFICIENT_FUNDS,
      });
      expect(operations.filter(([, r]) => r === "insufficient_funds")).toHaveLength(1);
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 1_000n, locked: 9_000n });
      await expectLedgerInvariants();
    });

    it("judges a batch in arrival order (FIFO): a later small hold can use what an earlier large one could not", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 3_000n, `topup:${m}`);
      const { recorded, batches } = recordingStore();
      const results = await Promise.allSettled(
        [2_000n, 2_000n, 1_000n, 1n].map((amount) => recorded.hold(m, newHold(), "PKR", amount)),
      );
      expect(batches).toEqual([4]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected", "fulfilled", "rejected"]);
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 0n, locked: 3_000n });
    });

    it("mixes top-ups, holds, captures, releases and repeats of one id in one batch, each with its own outcome", async () => {
      const m = newMerchant();
      const { recorded, batches } = recordingStore();
      // Through the recording store, so it knows the accounts and every call below queues at once, in order.
      await recorded.topUp(m, "PKR", 5_000n, `topup:${m}:0`);
      const a = newHold();
      const b = newHold();
      await recorded.hold(m, a, "PKR", 1_000n);
      await recorded.hold(m, b, "PKR", 1_000n);
      const fresh = newHold();
      const results = await Promise.allSettled([
        recorded.capture(a),
        recorded.release(a),
        recorded.release(b),
        recorded.hold(m, fresh, "PKR", 4_000n),
        recorded.hold(m, fresh, "PKR", 4_000n),
        recorded.hold(m, fresh, "PKR", 4_001n),
        recorded.topUp(m, "PKR", 500n, `topup:${m}:1`),
        recorded.hold(m, newHold(), "PKR", 500n),
        recorded.capture("po_missing"),
      ]);
      expect(batches.at(-1)).toBe(9);
      const reasons = results.map((r) => (r.status === "fulfilled" ? "ok" : errorDetails(r.reason).reason));
      expect(reasons).toEqual([
        "ok",
        Reason.HOLD_ALREADY_FINAL,
        "ok",
        "ok",
        "ok",
        Reason.IDEMPOTENCY_MISMATCH,
        "ok",
        "ok",
        Reason.NOT_FOUND,
      ]);
      expect((results[3] as PromiseFulfilledResult<unknown>).value).toEqual(
        (results[4] as PromiseFulfilledResult<unknown>).value,
      );
      // 5,000 − 1,000 captured; fresh 4,000 and the 500 hold locked; the top-up of 500 made the last fit.
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 0n, locked: 4_500n });
      await expectLedgerInvariants();
    });

    it("keeps exactly-once holds across two stores (two processes) racing on one merchant", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 1_000_000n, `topup:${m}`);
      const other = new LedgerStore(db, { groupCommit: { concurrency: 2 } });
      const holdIds = Array.from({ length: 120 }, newHold);
      const results = await Promise.allSettled(
        holdIds.flatMap((holdId, i) => [
          (i % 2 ? store : other).hold(m, holdId, "PKR", 10_000n),
          (i % 2 ? other : store).hold(m, holdId, "PKR", 10_000n),
        ]),
      );
      const failures = results.flatMap((r) => (r.status === "rejected" ? [errorDetails(r.reason)] : []));
      expect(failures.filter((f) => f.reason !== Reason.INSUFFICIENT_FUNDS)).toEqual([]);
      const [held] = await query("select count(*) as n from holds where merchant_id = ?", [m]);
      expect(Number(held?.n)).toBe(100);
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 0n, locked: 1_000_000n });
      await expectLedgerInvariants();
    });
    it("answers a top-up replay from a read, not from a failed attempt on the balances it remembers", async () => {
      let conflicts = 0;
      const counting = new LedgerStore(db, {
        observer: { operation() {}, batch() {}, conflict: () => conflicts++, invariants() {} },
      });
      const m = newMerchant();
      const first = await counting.topUp(m, "PKR", 10_000n, `topup:${m}`); // its accounts are now remembered
      expect(await counting.topUp(m, "PKR", 10_000n, `topup:${m}`)).toEqual(first);
      expect(conflicts).toBe(0);
      expect(await counting.balance(m, "PKR")).toMatchObject({ available: 10_000n });
    });

    it("judges from the balances it remembers only while the database still holds them", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 10_000n, `topup:${m}`);
      const first = newHold();
      await store.hold(m, first, "PKR", 1_000n); // remembers 9,000 available
      const other = new LedgerStore(db); // another process
      await other.hold(m, newHold(), "PKR", 8_500n); // 500 left, behind this store's back
      expect(await failure(store.hold(m, newHold(), "PKR", 1_000n))).toMatchObject({
        reason: Reason.INSUFFICIENT_FUNDS,
      });
      await other.topUp(m, "PKR", 5_000n, `more:${m}`); // 5,500, behind its back again
      const fits = newHold();
      expect(await store.hold(m, fits, "PKR", 2_000n)).toMatchObject({ status: HoldState.PENDING });
      await store.capture(first); // now it remembers the settlement account too
      // A hold it placed, released by the other process, which then holds the same amount again: the
      // balances are back to what this store remembers, but its capture still must not go through.
      await other.release(fits);
      await other.hold(m, newHold(), "PKR", 2_000n);
      expect(await failure(store.capture(fits))).toMatchObject({ reason: Reason.HOLD_ALREADY_FINAL });
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 3_500n, locked: 10_500n });
      await expectLedgerInvariants();
    });

    it.skipIf(!settings.DATABASE_URL)(
      "refuses a hold whose deadline passes while it waits for its account locks, though judged in time",
      async () => {
        const m = newMerchant();
        await store.topUp(m, "PKR", 10_000n, `topup:${m}`);
        await store.hold(m, newHold(), "PKR", 1_000n); // its balances are remembered: the next hold is judged at once
        const late = newHold();
        let holding: Promise<unknown> | undefined;
        const locked = new Promise<void>((lockTaken) => {
          holding = db.sql.transaction(async (tx) => {
            await tx.query("select id from accounts where merchant_id = ? for update", [m]);
            lockTaken();
            await new Promise((done) => setTimeout(done, 600));
          });
        });
        await locked;
        expect(await failure(store.hold(m, late, "PKR", 1_000n, Date.now() + 200))).toMatchObject({
          code: Code.DeadlineExceeded,
        });
        await holding;
        expect(await store.getHold(late)).toBeUndefined();
        expect(await store.balance(m, "PKR")).toMatchObject({ available: 9_000n, locked: 1_000n });
        await expectLedgerInvariants();
      },
    );
  });

  describe("settle, entries and invariants", () => {
    it("settles a batch in one transaction with an outcome per item", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 10_000n, `topup:${m}`);
      const ids = Array.from({ length: 4 }, newHold);
      for (const id of ids) await store.hold(m, id, "PKR", 1_000n);
      await store.release(ids[3]!);
      const outcomes = await store.settle([
        { holdId: ids[0]!, action: "capture" },
        { holdId: ids[1]!, action: "release" },
        { holdId: ids[0]!, action: "capture" },
        { holdId: ids[2]!, action: "capture" },
        { holdId: ids[3]!, action: "capture" },
        { holdId: "po_missing", action: "release" },
      ]);
      expect(outcomes.map((o) => (o.ok ? o.value.status : errorDetails(o.error).reason))).toEqual([
        HoldState.CAPTURED,
        HoldState.RELEASED,
        HoldState.CAPTURED,
        HoldState.CAPTURED,
        Reason.HOLD_ALREADY_FINAL,
        Reason.NOT_FOUND,
      ]);
      expect(await store.balance(m, "PKR")).toMatchObject({ available: 8_000n, locked: 0n });
      await expectLedgerInvariants();
    });

    it("lists entries newest first with cursor paging and filters", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 10_000n, `topup:${m}`);
      const holdId = newHold();
      await store.hold(m, holdId, "PKR", 2_500n);
      await store.capture(holdId);
      const all = await store.listEntries({ merchantId: m, limit: 10 });
      expect(all.hasMore).toBe(false);
      expect(all.entries.map((e) => [e.transferKind, e.kind, e.amount])).toEqual([
        ["capture", AccountKind.LOCKED, -2_500n],
        ["hold", AccountKind.LOCKED, 2_500n],
        ["hold", AccountKind.AVAILABLE, -2_500n],
        ["topup", AccountKind.AVAILABLE, 10_000n],
      ]);
      expect(all.entries[0]).toMatchObject({ merchantId: m, currency: "PKR", holdId });
      expect(all.entries[3]?.holdId).toBe("");
      const first = await store.listEntries({ merchantId: m, limit: 3 });
      expect(first.hasMore).toBe(true);
      const second = await store.listEntries({ merchantId: m, limit: 3, startingAfter: BigInt(first.entries[2]!.id) });
      expect([...first.entries, ...second.entries].map((e) => e.id)).toEqual(all.entries.map((e) => e.id));
      expect(second.hasMore).toBe(false);
      const locked = await store.listEntries({ merchantId: m, kind: AccountKind.LOCKED, limit: 10 });
      expect(locked.entries).toHaveLength(2);
      const future = new Date(Date.now() + 60_000);
      expect((await store.listEntries({ merchantId: m, createdAfter: future, limit: 10 })).entries).toEqual([]);
      const past = new Date(Date.now() - 60_000);
      expect(
        (await store.listEntries({ merchantId: m, createdAfter: past, createdBefore: future, limit: 10 })).entries,
      ).toHaveLength(4);
      expect((await store.listEntries({ merchantId: m, currency: "USD", limit: 10 })).entries).toEqual([]);
      const platform = await store.listEntries({ merchantId: "", kind: AccountKind.SETTLEMENT, limit: 100 });
      expect(platform.entries.some((e) => e.holdId === holdId && e.amount === 2_500n && e.merchantId === "")).toBe(
        true,
      );
    });

    it("reports a broken invariant and recovers once the books are right again", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 1_000n, `topup:${m}`);
      const seen: boolean[] = [];
      const watched = new LedgerStore(db, {
        observer: { operation() {}, batch() {}, conflict() {}, invariants: (ok) => seen.push(ok) },
      });
      await query("update accounts set balance = balance + 1 where merchant_id = ? and kind = ?", [m, "available"]);
      try {
        const report = await watched.verifyInvariants();
        expect(report.ok).toBe(false);
        expect(report.violations.join("\n")).toMatch(/differ from their entries/);
        expect(report.violations.join("\n")).toMatch(/sum to|balances/);
      } finally {
        await query("update accounts set balance = balance - 1 where merchant_id = ? and kind = ?", [m, "available"]);
      }
      const report = await watched.verifyInvariants();
      expect(report).toMatchObject({ ok: true, violations: [] });
      expect(report.entriesChecked).toBeGreaterThan(0n);
      expect(seen).toEqual([false, true]);
    });

    it("reports a hold whose state its transfers do not back, and a locked balance its pending holds do not explain", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 1_000n, `topup:${m}`);
      const pending = `hold-${m}-pending`;
      const captured = `hold-${m}-captured`;
      await store.hold(m, pending, "PKR", 100n);
      await store.hold(m, captured, "PKR", 200n);
      await store.capture(captured);
      expect(await store.verifyInvariants()).toMatchObject({ ok: true });
      // A pending hold marked released without its release transfer; a captured one marked pending again.
      await query("update holds set status = ? where id = ?", ["RELEASED", pending]);
      await query("update holds set status = ? where id = ?", ["PENDING", captured]);
      try {
        const text = (await store.verifyInvariants()).violations.join("\n");
        expect(text).toMatch(new RegExp(`holds whose transfers do not match their state: .*${pending} RELEASED 100`));
        expect(text).toMatch(new RegExp(`${captured} PENDING 200 \\(hold 200, capture 200, release null\\)`));
        expect(text).toMatch(new RegExp(`locked balances differ from pending holds: ${m} PKR locked 100`));
      } finally {
        await query("update holds set status = ? where id = ?", ["PENDING", pending]);
        await query("update holds set status = ? where id = ?", ["CAPTURED", captured]);
      }
      expect(await store.verifyInvariants()).toMatchObject({ ok: true, violations: [] });
    });
  });

  describe("the incremental check (verifyRecent)", () => {
    /** A merchant with 10,000 in, one hold captured and one pending: 8 entries. */
    async function activeMerchant() {
      const m = newMerchant();
      await store.topUp(m, "PKR", 10_000n, `topup:${m}`);
      const captured = newHold();
      const pending = newHold();
      await store.hold(m, captured, "PKR", 1_000n);
      await store.capture(captured);
      await store.hold(m, pending, "PKR", 2_000n);
      return { m, captured, pending };
    }
    const entryCount = async () => big((await query("select count(*) as n from entries"))[0]?.n);

    it("proves the whole books first, then only the entries written since", async () => {
      await activeMerchant();
      const first = await store.verifyRecent();
      expect(first).toMatchObject({ ok: true, violations: [] });
      expect(await store.verifyRecent()).toMatchObject({ ok: true, entriesChecked: 0n, holdsChecked: 0n });

      const { pending } = await activeMerchant();
      await store.release(pending);
      const next = await store.verifyRecent();
      // top-up 2, two holds 4, capture 2, release 2; two holds, a capture and a release.
      expect(next).toMatchObject({ ok: true, violations: [], entriesChecked: 10n, holdsChecked: 4n });
      expect(next.accountsChecked).toBe(big((await query("select count(*) as n from accounts"))[0]?.n));
      expect(await store.verifyInvariants()).toMatchObject({ ok: true, violations: [] });
    });

    it("keeps finding a balance or count changed behind the ledger's back until it is mended", async () => {
      const { m } = await activeMerchant();
      expect((await store.verifyRecent()).ok).toBe(true);
      const tamper = (column: string, delta: number) =>
        query(`update accounts set ${column} = ${column} + ? where merchant_id = ? and kind = ?`, [
          delta,
          m,
          "available",
        ]);
      await tamper("balance", 1);
      try {
        for (let i = 0; i < 2; i++) {
          const text = (await store.verifyRecent()).violations.join("\n");
          expect(text).toMatch(/account balances differ from their entries: .* balance 7001 entries 7000/);
          expect(text).toMatch(/account balances sum to 1, not 0/);
        }
      } finally {
        await tamper("balance", -1);
      }
      await tamper("entry_count", 1);
      try {
        expect((await store.verifyRecent()).violations.join("\n")).toMatch(/\(count 4, entries 3\)/);
      } finally {
        await tamper("entry_count", -1);
      }
      expect(await store.verifyRecent()).toMatchObject({ ok: true, violations: [] });
    });

    it("finds a new entry without its transfer and a new transfer that is not one debit and one equal credit", async () => {
      const { m, pending } = await activeMerchant();
      expect((await store.verifyRecent()).ok).toBe(true);
      await store.capture(pending);
      const [account] = await query("select id from accounts where merchant_id = ? and kind = ?", [m, "available"]);
      const [capture] = await query("select id, credit_account_id from transfers where idempotency_key = ?", [
        `capture:${pending}`,
      ]);
      // An entry of 5 under no transfer, and the capture's credit raised by 7, each with its balance and count.
      await query("insert into entries (transfer_id, account_id, amount, created_at) values (?, ?, ?, ?)", [
        "no-such-transfer",
        account?.id,
        5,
        settings.DATABASE_URL ? "2026-12-07 00:00:00.000" : Date.now(),
      ]);
      await query("update accounts set balance = balance + 5, entry_count = entry_count + 1 where id = ?", [
        account?.id,
      ]);
      await query("update entries set amount = amount + 7 where transfer_id = ? and amount > 0", [capture?.id]);
      await query("update accounts set balance = balance + 7 where id = ?", [capture?.credit_account_id]);
      try {
        const text = (await store.verifyRecent()).violations.join("\n");
        expect(text).toMatch(/^1 entries without a transfer$/m);
        expect(text).toMatch(new RegExp(`transfers not exactly one debit and one equal credit: ${capture?.id}`));
        expect(text).toMatch(/account balances sum to 12, not 0/);
      } finally {
        await query("delete from entries where transfer_id = ?", ["no-such-transfer"]);
        await query("update accounts set balance = balance - 5, entry_count = entry_count - 1 where id = ?", [
          account?.id,
        ]);
        await query("update entries set amount = amount - 7 where transfer_id = ? and amount > 0", [capture?.id]);
        await query("update accounts set balance = balance - 7 where id = ?", [capture?.credit_account_id]);
      }
      expect(await store.verifyRecent()).toMatchObject({ ok: true, violations: [] });
    });

    it("misses no entry that commits while it checks, across two stores racing on one merchant", async () => {
      const m = newMerchant();
      await store.topUp(m, "PKR", 1_000_000n, `topup:${m}`);
      expect((await store.verifyRecent()).ok).toBe(true);
      const before = await entryCount();
      const other = new LedgerStore(db);
      let checked = 0n;
      let checks = 0;
      let bursting = true;
      const checking = (async () => {
        while (bursting) {
          const report = await store.verifyRecent();
          expect(report.violations).toEqual([]);
          checked += report.entriesChecked;
          checks++;
          // A macrotask between checks: on SQLite every query settles synchronously, so without it this loop
          // would never let the stores' group commits run.
          await new Promise((done) => setTimeout(done, 1));
        }
      })();
      const burst = Array.from({ length: 8 }, async (_, caller) => {
        const owner = caller % 2 === 0 ? store : other;
        for (let i = 0; i < 25; i++) {
          const holdId = newHold();
          await owner.hold(m, holdId, "PKR", 100n);
          await (i % 3 === 0 ? owner.release(holdId) : owner.capture(holdId));
        }
      });
      await Promise.all(burst);
      bursting = false;
      await checking;
      const last = await store.verifyRecent();
      expect(last.violations).toEqual([]);
      checked += last.entriesChecked;
      // 200 holds and 200 captures or releases, two entries each: every one proved exactly once.
      expect(await entryCount()).toBe(before + 800n);
      expect(checked).toBe(800n);
      expect(checks).toBeGreaterThan(1);
      await expectLedgerInvariants();
    });
  });
});
