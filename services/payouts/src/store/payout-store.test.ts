import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger, type Database, dropTestDatabases, openDatabase, testStorage } from "@mypay/kit";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { PayoutRow } from "../payout-message.ts";
import { payoutRow, requestRecord } from "../test-records.ts";
import { entities } from "./entities.ts";
import { migrations } from "./migrations/index.ts";
import { type ClaimedPayout, type PayoutChange, PayoutStore } from "./payout-store.ts";

const settings = testStorage();
const engine = settings.DATABASE_URL ? "MariaDB/MySQL" : "SQLite";
const LONG_LEASE = 60_000;

const newPayout = (overrides: Partial<PayoutRow> = {}) => payoutRow({ merchantId: "m_store_test", ...overrides });

describe(`PayoutStore on ${engine}`, () => {
  let db: Database;
  let store: PayoutStore;

  const query = (sql: string, params: unknown[] = []) =>
    db.orm.em.getConnection().execute<Record<string, unknown>[]>(sql, params, "all");

  /** Claims every due payout, so each test starts with nothing claimable left over. */
  async function drainDue(): Promise<void> {
    while ((await store.claimDue(500, LONG_LEASE)).length > 0) {
      // keep claiming
    }
  }

  /** Empties the outbox, so outbox tests see only their own rows. */
  async function drainOutbox(): Promise<void> {
    await query("delete from outbox");
  }

  async function insertAll(rows: PayoutRow[]): Promise<void> {
    for (const row of rows) expect(await store.insert(row, "merchant:test")).toBe(true);
  }

  const transitionsOf = (payoutId: string) =>
    query("select from_status, to_status, reason, actor from payout_transitions where payout_id = ? order by id", [
      payoutId,
    ]);

  beforeAll(async () => {
    db = await openDatabase({
      service: "payouts",
      settings,
      entities,
      migrations,
      logger: createLogger("payouts-test", "silent"),
    });
    store = new PayoutStore(db);
  });

  afterAll(async () => {
    await db?.close();
    await dropTestDatabases(settings);
    rmSync(settings.DATA_DIR, { recursive: true, force: true });
  });

  beforeEach(async () => {
    await drainDue();
    await drainOutbox();
  });

  describe("insert", () => {
    it("stores the payout, readable by id and by idempotency key within its merchant", async () => {
      const row = newPayout();
      expect(await store.insert(row, "merchant:test")).toBe(true);
      expect(await store.get(row.merchantId, row.id)).toMatchObject(row);
      expect(await store.get("m_other", row.id)).toBeUndefined();
      expect(await store.get(row.merchantId, "po_missing")).toBeUndefined();
    });

    it("records the first transition and queues a payout.updated event", async () => {
      const row = newPayout({ status: "IN_REVIEW" });
      await store.insert(row, "merchant:m_store_test");
      expect(await transitionsOf(row.id)).toEqual([
        { from_status: null, to_status: "IN_REVIEW", reason: "created", actor: "merchant:m_store_test" },
      ]);
      const events = await query("select kind, payload from outbox where payout_id = ?", [row.id]);
      expect(events).toHaveLength(1);
      expect(events[0]?.kind).toBe("event");
      expect(JSON.parse(String(events[0]?.payload))).toMatchObject({
        event: "payout.updated",
        payoutId: row.id,
        status: "IN_REVIEW",
      });
    });

    it("returns false, changing nothing, for a second insert with the same id", async () => {
      const row = newPayout();
      expect(await store.insert(row, "merchant:test")).toBe(true);
      expect(await store.insert({ ...row, amount: 1n }, "merchant:test")).toBe(false);
      expect(await store.get(row.merchantId, row.id)).toMatchObject(row);
      expect(await transitionsOf(row.id)).toHaveLength(1);
      const [outbox] = await query("select count(*) as n from outbox where payout_id = ?", [row.id]);
      expect(Number(outbox?.n)).toBe(1);
    });

    it("lets exactly one of concurrent inserts of one payout win", async () => {
      const row = newPayout();
      const results = await Promise.all(Array.from({ length: 8 }, () => store.insert(row, "merchant:test")));
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await transitionsOf(row.id)).toHaveLength(1);
    });
  });

  describe("getMany", () => {
    it("reads the merchant's payouts among the ids, as get does, leaving out unknown and other merchants' ids", async () => {
      const mine = [newPayout(), newPayout({ status: "SUCCESS", pspReference: "PSP1", processedAt: new Date() })];
      const theirs = newPayout({ merchantId: "m_other" });
      await insertAll([...mine, theirs]);
      const found = await store.getMany("m_store_test", [mine[1]!.id, theirs.id, "po_missing", mine[0]!.id]);
      expect(found.map((r) => r.id).sort()).toEqual(mine.map((r) => r.id).sort());
      for (const row of found) expect(row).toEqual(await store.get(row.merchantId, row.id));
      expect(found.find((r) => r.id === mine[1]!.id)?.processedAt).toBeInstanceOf(Date);
      expect(await store.getMany("m_store_test", [])).toEqual([]);
    });
  });

  describe("claimDue", () => {
    it("claims due PENDING and RETRY payouts as PROCESSING with attempts + 1 under a lease", async () => {
      const pending = newPayout();
      const retry = newPayout({ status: "RETRY", attempts: 2 });
      const later = newPayout({ nextAttemptAt: new Date(Date.now() + 60_000) });
      const review = newPayout({ status: "IN_REVIEW" });
      const onHold = newPayout({ status: "ON_HOLD" });
      await insertAll([pending, retry, later, review, onHold]);

      const claimed = await store.claimDue(10, LONG_LEASE);
      expect(claimed.map((c) => c.row.id).sort()).toEqual([pending.id, retry.id].sort());
      const byId = new Map(claimed.map((c) => [c.row.id, c]));
      expect(byId.get(pending.id)).toMatchObject({ from: "PENDING", row: { status: "PROCESSING", attempts: 1 } });
      expect(byId.get(retry.id)).toMatchObject({ from: "RETRY", row: { status: "PROCESSING", attempts: 3 } });
      for (const c of claimed) expect(c.leaseId).toMatch(/^[0-9a-f-]{36}$/);

      for (const [row, attempts] of [
        [pending, 1],
        [retry, 3],
      ] as const) {
        expect(await store.get(row.merchantId, row.id)).toMatchObject({ status: "PROCESSING", attempts });
        const [lease] = await query("select lease_id, lease_until from payouts where id = ?", [row.id]);
        expect(lease?.lease_id).toBe(byId.get(row.id)?.leaseId);
        expect(lease?.lease_until).not.toBeNull();
      }
      expect(await transitionsOf(pending.id)).toEqual([
        { from_status: null, to_status: "PENDING", reason: "created", actor: "merchant:test" },
        { from_status: "PENDING", to_status: "PROCESSING", reason: "attempt 1", actor: "system:processor" },
      ]);
      for (const row of [later, review, onHold]) {
        expect((await store.get(row.merchantId, row.id))?.status).toBe(row.status);
      }
      expect(await store.claimDue(10, LONG_LEASE)).toEqual([]);
    });

    it("claims at most the limit, oldest due first", async () => {
      const base = Date.now() - 10_000;
      const rows = Array.from({ length: 5 }, (_, i) => newPayout({ nextAttemptAt: new Date(base + (4 - i) * 1000) }));
      await insertAll(rows);
      const first = await store.claimDue(2, LONG_LEASE);
      expect(first.map((c) => c.row.id)).toEqual([rows[4]!.id, rows[3]!.id]);
      const rest = await store.claimDue(10, LONG_LEASE);
      expect(rest.map((c) => c.row.id)).toEqual([rows[2]!.id, rows[1]!.id, rows[0]!.id]);
    });

    it("orders due PENDING, RETRY and lease-expired PROCESSING payouts together, oldest first", async () => {
      const at = (secondsAgo: number) => new Date(Date.now() - secondsAgo * 1000);
      const expired = newPayout({ nextAttemptAt: at(50) });
      await insertAll([expired]);
      expect((await store.claimDue(10, 1)).map((c) => c.row.id)).toEqual([expired.id]);
      const pending = [newPayout({ nextAttemptAt: at(60) }), newPayout({ nextAttemptAt: at(30) })];
      const retry = [
        newPayout({ status: "RETRY", nextAttemptAt: at(40) }),
        newPayout({ status: "RETRY", nextAttemptAt: at(10) }),
      ];
      await insertAll([...pending, ...retry]);
      await sleep(20);
      const claimed = await store.claimDue(4, LONG_LEASE);
      expect(claimed.map((c) => [c.row.id, c.from])).toEqual([
        [pending[0]!.id, "PENDING"],
        [expired.id, "PROCESSING"],
        [retry[0]!.id, "RETRY"],
        [pending[1]!.id, "PENDING"],
      ]);
      expect((await store.claimDue(4, LONG_LEASE)).map((c) => c.row.id)).toEqual([retry[1]!.id]);
    });

    it("never hands one payout to two concurrent claimers, and they share the work", async () => {
      const merchantId = `m_race_${randomUUID().slice(0, 8)}`;
      const dueAt = new Date(Date.now() - 1000);
      const rows = Array.from({ length: 300 }, (_, i) =>
        newPayout({ merchantId, nextAttemptAt: dueAt, ...(i % 5 === 0 ? { status: "RETRY" as const } : {}) }),
      );
      // Insert in parallel batches to keep the test quick; each insert is its own transaction.
      for (let i = 0; i < rows.length; i += 50) {
        const inserted = await Promise.all(rows.slice(i, i + 50).map((row) => store.insert(row, "merchant:test")));
        expect(inserted.every(Boolean)).toBe(true);
      }
      const claims = new Map<string, number>();
      const perClaimer = [0, 0, 0];
      const claimer = async (n: number) => {
        for (;;) {
          const batch = await store.claimDue(16, LONG_LEASE);
          if (batch.length === 0) return;
          perClaimer[n]! += batch.length;
          for (const c of batch) claims.set(c.row.id, (claims.get(c.row.id) ?? 0) + 1);
        }
      };
      // Creates keep landing meanwhile (due later), as they do in production.
      const creates = async () => {
        for (let i = 0; i < 30; i++) {
          expect(
            await store.insert(newPayout({ merchantId, nextAttemptAt: new Date(Date.now() + 3_600_000) }), "m"),
          ).toBe(true);
        }
      };
      await Promise.all([claimer(0), claimer(1), claimer(2), creates()]);
      expect(await store.claimDue(16, LONG_LEASE)).toEqual([]);
      const twice = [...claims].filter(([, count]) => count !== 1);
      expect(twice, "payouts claimed more than once").toEqual([]);
      expect(claims.size).toBe(300);
      expect(new Set(claims.keys())).toEqual(new Set(rows.map((r) => r.id)));
      const [processing] = await query(
        "select count(*) as n from payouts where merchant_id = ? and status = 'PROCESSING' and attempts = 1",
        [merchantId],
      );
      expect(Number(processing?.n)).toBe(300);
      const [transitions] = await query(
        `select count(*) as n from payout_transitions t join payouts p on p.id = t.payout_id
          where p.merchant_id = ? and t.to_status = 'PROCESSING'`,
        [merchantId],
      );
      expect(Number(transitions?.n)).toBe(300);
      expect(perClaimer.reduce((a, b) => a + b, 0)).toBe(300);
      if (db.kind !== "sqlite") {
        // SKIP LOCKED only helps if a claim locks just the rows it takes; one that locks every due row
        // leaves the other claimers nothing, and all the work to a single replica.
        expect(perClaimer.filter((n) => n > 0).length, `claims per claimer: ${perClaimer}`).toBeGreaterThan(1);
      }
    });

    it("claims a PROCESSING payout again once its lease has expired, and drops the stale worker's result", async () => {
      const row = newPayout();
      await insertAll([row]);
      const [first] = await store.claimDue(10, 1);
      expect(first?.row.id).toBe(row.id);
      await sleep(20);
      const [second] = await store.claimDue(10, LONG_LEASE);
      expect(second).toMatchObject({ from: "PROCESSING", row: { id: row.id, status: "PROCESSING", attempts: 2 } });
      expect(second?.leaseId).not.toBe(first?.leaseId);
      // The live lease is respected: nobody else may take it now.
      expect(await store.claimDue(10, LONG_LEASE)).toEqual([]);

      const stale = await store.applyChanges([success(first!)]);
      expect(stale).toBe(0);
      expect((await store.get(row.merchantId, row.id))?.status).toBe("PROCESSING");
      expect(await store.applyChanges([success(second!)])).toBe(1);
      expect((await store.get(row.merchantId, row.id))?.status).toBe("SUCCESS");
    });
  });

  function success(claim: ClaimedPayout): PayoutChange {
    return {
      row: claim.row,
      leaseId: claim.leaseId,
      to: "SUCCESS",
      reason: "bank accepted",
      set: { pspReference: "PSP0123456789ABCDEF", processedAt: new Date() },
      notify: true,
    };
  }

  describe("applyChanges", () => {
    async function claimOne(overrides: Partial<PayoutRow> = {}): Promise<ClaimedPayout> {
      const row = newPayout(overrides);
      await insertAll([row]);
      const claimed = await store.claimDue(10, LONG_LEASE);
      expect(claimed.map((c) => c.row.id)).toEqual([row.id]);
      await drainOutbox();
      return claimed[0]!;
    }

    it("applies nothing for a lease id that is not the payout's current one", async () => {
      const claim = await claimOne();
      const applied = await store.applyChanges([{ ...success(claim), leaseId: randomUUID() }]);
      expect(applied).toBe(0);
      expect(await store.get(claim.row.merchantId, claim.row.id)).toMatchObject({
        status: "PROCESSING",
        pspReference: null,
      });
      expect(await transitionsOf(claim.row.id)).toHaveLength(2);
      expect(await store.outboxBacklog()).toBe(0);
    });

    it("applies a SUCCESS once: status, columns, transition, a capture and an event in the outbox", async () => {
      const claim = await claimOne({ amount: 100_050n });
      const change = success(claim);
      expect(await store.applyChanges([change])).toBe(1);
      expect(await store.applyChanges([change])).toBe(0);

      const stored = await store.get(claim.row.merchantId, claim.row.id);
      expect(stored).toMatchObject({ status: "SUCCESS", pspReference: "PSP0123456789ABCDEF", attempts: 1 });
      expect(stored?.processedAt?.getTime()).toBe(change.set.processedAt?.getTime());
      const [lease] = await query("select lease_id, lease_until from payouts where id = ?", [claim.row.id]);
      expect(lease).toEqual({ lease_id: null, lease_until: null });
      expect((await transitionsOf(claim.row.id)).at(-1)).toEqual({
        from_status: "PROCESSING",
        to_status: "SUCCESS",
        reason: "bank accepted",
        actor: "system:processor",
      });

      const outbox = await store.claimOutbox(100, LONG_LEASE);
      expect(outbox.map((m) => m.kind).sort()).toEqual(["capture", "event"]);
      const capture = outbox.find((m) => m.kind === "capture");
      expect(capture).toMatchObject({
        id: `capture_${claim.row.id}`,
        payoutId: claim.row.id,
        merchantId: claim.row.merchantId,
        payload: null,
        attempts: 0,
      });
      const event = outbox.find((m) => m.kind === "event")!;
      expect(event.id).toMatch(/^evt_[0-9a-f]{28}$/);
      const payload = JSON.parse(event.payload!);
      expect(payload).toMatchObject({
        id: event.id,
        type: "payout.updated",
        event: "payout.updated",
        payoutId: claim.row.id,
        status: "SUCCESS",
        pspReference: "PSP0123456789ABCDEF",
        data: {
          id: claim.row.id,
          status: "SUCCESS",
          amount: "1000.50",
          currency: "PKR",
          pspReference: "PSP0123456789ABCDEF",
          attempts: 1,
        },
      });
      expect(typeof payload.data.amount).toBe("string");
      expect(new Date(payload.timestamp).toISOString()).toBe(payload.timestamp);
    });

    it("queues a release for FAILED, no ledger call for RETRY, and no event when notify is false", async () => {
      const failed = await claimOne();
      const retry = await claimOne();
      const silent = await claimOne();
      const applied = await store.applyChanges([
        {
          row: failed.row,
          leaseId: failed.leaseId,
          to: "FAILED",
          reason: "ACCOUNT_CLOSED",
          set: { failureCode: "ACCOUNT_CLOSED", failureMessage: "closed", processedAt: new Date() },
          notify: true,
        },
        {
          row: retry.row,
          leaseId: retry.leaseId,
          to: "RETRY",
          reason: "BANK_UNAVAILABLE",
          set: { nextAttemptAt: new Date(Date.now() + 60_000) },
          notify: true,
        },
        {
          row: silent.row,
          leaseId: silent.leaseId,
          to: "PENDING",
          reason: "BANK_NO_ANSWER",
          set: { nextAttemptAt: new Date(Date.now() + 60_000) },
          notify: false,
        },
      ]);
      expect(applied).toBe(3);
      const outbox = await store.claimOutbox(100, LONG_LEASE);
      const kinds = (id: string) =>
        outbox
          .filter((m) => m.payoutId === id)
          .map((m) => m.kind)
          .sort();
      expect(kinds(failed.row.id)).toEqual(["event", "release"]);
      expect(outbox.find((m) => m.kind === "release")?.id).toBe(`release_${failed.row.id}`);
      expect(kinds(retry.row.id)).toEqual(["event"]);
      expect(kinds(silent.row.id)).toEqual([]);
      expect(await store.get(failed.row.merchantId, failed.row.id)).toMatchObject({
        status: "FAILED",
        failureCode: "ACCOUNT_CLOSED",
      });
      // Neither comes due again before its next attempt time.
      expect(await store.claimDue(10, LONG_LEASE)).toEqual([]);
    });

    it("applies the current changes of a batch and skips the stale ones", async () => {
      const live = await claimOne();
      const stale = await claimOne();
      const applied = await store.applyChanges([success(live), { ...success(stale), leaseId: randomUUID() }]);
      expect(applied).toBe(1);
      expect((await store.get(live.row.merchantId, live.row.id))?.status).toBe("SUCCESS");
      expect((await store.get(stale.row.merchantId, stale.row.id))?.status).toBe("PROCESSING");
      expect((await store.claimOutbox(100, LONG_LEASE)).every((m) => m.payoutId === live.row.id)).toBe(true);
    });

    it("does nothing for an empty batch", async () => {
      expect(await store.applyChanges([])).toBe(0);
    });
  });

  describe("outbox", () => {
    it("claims due messages under a lease and settles them: done rows leave, failed rows come back later", async () => {
      const rows = [newPayout(), newPayout(), newPayout()];
      await insertAll(rows);
      const ids = new Set(rows.map((r) => r.id));
      expect(await store.outboxBacklog()).toBe(3);

      const claimed = await store.claimOutbox(10, LONG_LEASE);
      expect(claimed).toHaveLength(3);
      expect(new Set(claimed.map((m) => m.payoutId))).toEqual(ids);
      // Leased: not claimable again while the lease runs.
      expect(await store.claimOutbox(10, LONG_LEASE)).toEqual([]);

      const [done, retryLater, retryNow] = claimed as [(typeof claimed)[0], (typeof claimed)[0], (typeof claimed)[0]];
      await store.settleOutbox(
        [done.id],
        [
          { id: retryLater.id, error: "notifier unavailable", retryAt: new Date(Date.now() + 60_000) },
          { id: retryNow.id, error: "x".repeat(400), retryAt: new Date(Date.now() - 1) },
        ],
      );
      expect(await store.outboxBacklog()).toBe(2);
      const again = await store.claimOutbox(10, LONG_LEASE);
      expect(again).toEqual([{ ...retryNow, attempts: 1 }]);
      const [row] = await query("select last_error from outbox where id = ?", [retryNow.id]);
      expect(String(row?.last_error)).toBe("x".repeat(255));
      expect(await query("select id from outbox where id = ?", [done.id])).toEqual([]);

      await store.settleOutbox([retryNow.id], []);
      expect(await store.outboxBacklog()).toBe(1);
      await store.settleOutbox([], []);
      expect(await store.outboxBacklog()).toBe(1);
    });

    it("claims a message again once its lease has expired", async () => {
      await insertAll([newPayout()]);
      const [first] = await store.claimOutbox(10, 1);
      expect(first).toBeDefined();
      await sleep(20);
      expect(await store.claimOutbox(10, LONG_LEASE)).toEqual([first]);
    });

    it("hands new messages to the in-process relay after the commit, leased so that no claim takes them meanwhile", async () => {
      const handed: string[][] = [];
      const leaseMs = 300;
      const own = new PayoutStore(db, { handoff: { leaseMs, deliver: (rows) => handed.push(rows.map((r) => r.id)) } });
      const row = newPayout();
      expect(await own.insert(row, "merchant:test")).toBe(true);
      const [outbox] = await query("select id from outbox where payout_id = ?", [row.id]);
      expect(handed).toEqual([[outbox?.id]]);
      // Nobody else relays it while this process holds it…
      expect(await store.claimOutbox(10, LONG_LEASE)).toEqual([]);
      // …and should the process die before relaying it, any relay claims it once the lease runs out.
      await sleep(leaseMs + 50);
      expect((await store.claimOutbox(10, LONG_LEASE)).map((m) => m.id)).toEqual([outbox?.id]);
      // A transaction that fails hands nothing over.
      expect(await own.insert(row, "merchant:test")).toBe(false);
      expect(handed).toHaveLength(1);
    });

    it("claims at most the limit and never one message twice across concurrent claimers", async () => {
      const rows = Array.from({ length: 60 }, () => newPayout());
      await insertAll(rows);
      const seen = new Map<string, number>();
      const claimer = async () => {
        for (;;) {
          const batch = await store.claimOutbox(7, LONG_LEASE);
          expect(batch.length).toBeLessThanOrEqual(7);
          if (batch.length === 0) return;
          for (const m of batch) seen.set(m.id, (seen.get(m.id) ?? 0) + 1);
        }
      };
      await Promise.all([claimer(), claimer(), claimer()]);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
      expect(seen.size).toBe(60);
    });
  });
});

describe(`payout request records on ${engine}, from before time-ordered ids`, () => {
  const upgraded = testStorage();
  afterAll(() => dropTestDatabases(upgraded));

  it("a key recorded under the old derived id still finds its record after the migration", async () => {
    const open = (list: typeof migrations) =>
      openDatabase({
        service: "payouts",
        settings: upgraded,
        entities,
        migrations: list,
        logger: createLogger("payouts-test", "silent"),
      });
    // The schema before key digests, with a record whose id is `po_` + the digest of merchant and key.
    const before = await open({ mysql: migrations.mysql.slice(0, -1), sqlite: migrations.sqlite.slice(0, -1) });
    const now = new Date();
    try {
      await before.orm.em.getConnection().execute(
        `insert into payout_requests (payout_id, merchant_id, idempotency_key, fingerprint, state, owner, locked_until,
                created_at, updated_at, expires_at) values (?, ?, ?, ?, 'done', ?, ?, ?, ?, ?)`,
        ["po_OEKcTcN1-RuaAhLruu9gpzNz", "m_demo", "order-1", "fp", "first", now, now, now, now],
      );
    } finally {
      await before.close();
    }
    const after = await open(migrations);
    try {
      const record = (idempotencyKey: string) =>
        requestRecord({ merchantId: "m_demo", idempotencyKey, owner: "retry", lockedUntil: now, expiresAt: now });
      const [same, otherCase] = await new PayoutStore(after).beginRequests([record("order-1"), record("Order-1")]);
      expect(same).toMatchObject({
        ok: true,
        value: { started: false, record: { payoutId: "po_OEKcTcN1-RuaAhLruu9gpzNz" } },
      });
      // A key differing only in case is another key, whatever the column's collation says.
      expect(otherCase).toMatchObject({ ok: true, value: { started: true } });
    } finally {
      await after.close();
    }
  });
});
