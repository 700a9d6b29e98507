import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { Client } from "@connectrpc/connect";
import {
  createLogger,
  type Database,
  dropTestDatabases,
  openDatabase,
  parseConfig,
  Reason,
  testStorage,
} from "@mypay/kit";
import { HoldStatus, type LedgerService, type SettleAction } from "@mypay/proto/mypay/ledger/v1/ledger";
import type { NotifierService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { Registry } from "prom-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Backlog } from "./backlog.ts";
import type { BankOutcome, BankRail } from "./bank/bank-rail.ts";
import { payoutsSettings, withSeedMode } from "./config.ts";
import { PayoutMetrics } from "./metrics.ts";
import type { PayoutRow } from "./payout-message.ts";
import { Processor, type ProcessorOptions } from "./processor.ts";
import { Reconciler } from "./reconciler.ts";
import { OutboxRelay } from "./relay.ts";
import { entities } from "./store/entities.ts";
import { migrations } from "./store/migrations/index.ts";
import { PayoutStore, type RequestRecord } from "./store/payout-store.ts";
import { payoutRow, requestRecord as recordOf } from "./test-records.ts";

const settings = testStorage();
const engine = settings.DATABASE_URL ? "MariaDB/MySQL" : "SQLite";
const logger = createLogger("payouts-test", "silent");

const newPayout = (overrides: Partial<PayoutRow> = {}) => payoutRow({ merchantId: "m_loops", ...overrides });

/** A request record of this file's merchant. */
const requestRecord = (overrides: Partial<RequestRecord> = {}) => recordOf({ merchantId: "m_loops", ...overrides });

/** The processor's options in these tests (rounds are woken by hand: the cron tick is 59 s). */
const PROCESSOR_OPTIONS: ProcessorOptions = {
  tickSeconds: 59,
  batchSize: 50,
  concurrency: 4,
  leaseMs: 30_000,
  maxAttempts: 3,
  retryBaseMs: 5,
  retryCapMs: 20,
};

/** A rail that always answers the same. */
const railOf = (outcome: BankOutcome): BankRail & { calls: number } => {
  const rail = {
    calls: 0,
    async send() {
      rail.calls++;
      return outcome;
    },
  };
  return rail;
};

describe(`background loops on ${engine}`, () => {
  let db: Database;
  let store: PayoutStore;
  let registry: Registry;
  let metrics: PayoutMetrics;
  const query = (sql: string, params: unknown[] = []) =>
    db.orm.em.getConnection().execute<Record<string, unknown>[]>(sql, params, "all");

  beforeAll(async () => {
    db = await openDatabase({ service: "payouts", settings, entities, migrations, logger });
    registry = new Registry();
    let m: PayoutMetrics | undefined;
    store = new PayoutStore(db, { onTransitions: (list) => m?.transitions(list) });
    metrics = new PayoutMetrics(registry, store);
    m = metrics;
  });

  afterAll(async () => {
    await db?.close();
    await dropTestDatabases(settings);
  });

  beforeEach(async () => {
    // Each test sees only its own payouts and outbox rows.
    await query("delete from payouts");
    await query("delete from outbox");
    await query("delete from payout_requests");
  });

  const processorWith = (rail: BankRail, maxAttempts = 3) =>
    new Processor(store, rail, { ...PROCESSOR_OPTIONS, maxAttempts }, logger, { metrics });

  /** Runs processor rounds until `done` holds (rounds are woken by hand; the cron tick is 59 s). */
  async function runUntil(processor: Processor, done: () => Promise<boolean>, rounds = 200): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      processor.loop.wake();
      await sleep(10);
      if (await done()) return;
    }
    throw new Error("processor did not get there");
  }

  it("retries a transient failure with backoff and fails it RETRIES_EXHAUSTED after the max attempts", async () => {
    const rail = railOf({ kind: "transient", code: "BANK_UNAVAILABLE", message: "down" });
    const processor = processorWith(rail, 3);
    const row = newPayout();
    await store.insert(row, "merchant:test");
    await runUntil(processor, async () => (await store.get(row.merchantId, row.id))?.status === "FAILED");
    await processor.loop.stop();
    const failed = await store.get(row.merchantId, row.id);
    expect(failed).toMatchObject({ status: "FAILED", failureCode: "RETRIES_EXHAUSTED", attempts: 3 });
    expect(rail.calls).toBe(3);
    expect((await store.history(row.id)).map((t) => t.toStatus)).toEqual([
      "PENDING",
      "PROCESSING",
      "RETRY",
      "PROCESSING",
      "RETRY",
      "PROCESSING",
      "FAILED",
    ]);
    const outbox = await query("select kind from outbox where payout_id = ? and kind <> 'event'", [row.id]);
    expect(outbox).toEqual([{ kind: "release" }]);
    const text = await registry.metrics();
    expect(text).toMatch(/payout_bank_calls_total\{outcome="transient"\} 3/);
    expect(text).toMatch(/payout_transitions_total\{from="PROCESSING",to="FAILED"\} 1/);
    expect(text).toMatch(/payout_time_to_final_seconds_count\{status="FAILED"\} 1/);
  });

  it("re-checks a payout the bank never answered only after its backoff: no busy loop", async () => {
    const rail = railOf({ kind: "no_answer" });
    const processor = new Processor(
      store,
      rail,
      { ...PROCESSOR_OPTIONS, retryBaseMs: 60_000, retryCapMs: 60_000 },
      logger,
    );
    const row = newPayout({ accountNumber: "1234560004" });
    await store.insert(row, "merchant:test");
    for (let i = 0; i < 5; i++) {
      processor.loop.wake();
      await sleep(20);
    }
    await processor.loop.stop();
    expect(rail.calls).toBe(1);
    const pending = await store.get(row.merchantId, row.id);
    expect(pending?.status).toBe("PENDING");
    expect(pending!.nextAttemptAt.getTime()).toBeGreaterThan(Date.now() + 50_000);
  });

  it("stops after the bank calls in flight: their answers are committed, the rest handed back at once", async () => {
    // A bank that answers only when the test says so, one call at a time (as in seed mode): before, a stop
    // waited for the whole batch, here five calls.
    const sent: string[] = [];
    let answer = () => {};
    const slowRail: BankRail = {
      async send(transfer) {
        sent.push(transfer.payoutId);
        await new Promise<void>((resolve) => {
          answer = resolve;
        });
        return { kind: "success", pspReference: "PSP-SLOW", processedAt: new Date() };
      },
    };
    const processor = new Processor(store, slowRail, { ...PROCESSOR_OPTIONS, batchSize: 5, concurrency: 1 }, logger);
    const rows = Array.from({ length: 5 }, () => newPayout());
    for (const row of rows) await store.insert(row, "merchant:test");
    processor.loop.wake();
    while (sent.length === 0) await sleep(5);
    const stopped = processor.loop.stop();
    answer();
    await stopped;
    expect(sent).toHaveLength(1);
    const first = rows.find((r) => r.id === sent[0])!;
    const rest = rows.filter((r) => r !== first);
    expect(await store.get(first.merchantId, first.id)).toMatchObject({ status: "SUCCESS", attempts: 1 });
    for (const row of rest) {
      expect(await store.get(row.merchantId, row.id)).toMatchObject({ status: "PROCESSING", attempts: 0 });
    }

    // Due again at once (no lease to wait out), their claim's attempt not counted: each is sent once.
    const rail = railOf({ kind: "success", pspReference: "PSP-NEXT", processedAt: new Date() });
    const next = processorWith(rail);
    const settled = async () =>
      (await Promise.all(rest.map((r) => store.get(r.merchantId, r.id)))).every((r) => r?.status === "SUCCESS");
    await runUntil(next, settled, 20);
    await next.loop.stop();
    expect(rail.calls).toBe(4);
    for (const row of rest) expect((await store.get(row.merchantId, row.id))?.attempts).toBe(1);
  });

  it("bounds the backlog from cached counts the loops refresh", async () => {
    const backlog = new Backlog(store, 3, 0);
    await backlog.refreshDue();
    expect(backlog.full()).toBe(false);
    for (let i = 0; i < 3; i++) await store.insert(newPayout(), "merchant:test");
    expect(backlog.full()).toBe(false); // not refreshed yet: no count per request
    await backlog.refreshDue();
    expect(backlog.full()).toBe(true);
    await query("delete from payouts");
    await backlog.refreshDue();
    // Three creation events are still waiting in the outbox.
    expect(await backlog.refreshOutbox()).toBe(3);
    expect(backlog.full()).toBe(true);
    await query("delete from outbox");
    await backlog.refreshOutbox();
    expect(backlog.full()).toBe(false);
  });

  it("reconciler: abandons a stale request without a payout and queues its hold's release; leaves the rest", async () => {
    const old = new Date(Date.now() - 600_000);
    const orphan = requestRecord({ createdAt: old, lockedUntil: old });
    const withPayout = requestRecord({ createdAt: old, lockedUntil: old });
    const young = requestRecord();
    // Started long ago, but its lock (taken over by a retry) ran out only just now: its hold may be on its way.
    const justUnlocked = requestRecord({ createdAt: old, lockedUntil: new Date(Date.now() - 1_000) });
    expect((await store.beginRequests([orphan, withPayout, young, justUnlocked])).every((o) => o.ok)).toBe(true);
    await store.insert(newPayout({ id: withPayout.payoutId }), "merchant:test");
    const reconciler = new Reconciler(
      store,
      { tickSeconds: 59, graceMs: 300_000, holdWindowMs: 10_000, batchSize: 10, keepMs: 86_400_000, purgeBatch: 10 },
      logger,
      () => {},
    );
    await reconciler.round();
    expect((await store.getRequest(orphan.payoutId))?.state).toBe("abandoned");
    expect((await store.getRequest(withPayout.payoutId))?.state).toBe("done");
    expect((await store.getRequest(young.payoutId))?.state).toBe("in_progress");
    expect((await store.getRequest(justUnlocked.payoutId))?.state).toBe("in_progress");
    const releases = await query("select payout_id from outbox where kind = 'release'");
    expect(releases).toEqual([{ payout_id: orphan.payoutId }]);
    await reconciler.round();
    expect(await query("select payout_id from outbox where kind = 'release'")).toHaveLength(1);
  });

  it("group insert: each payout keeps its own outcome; a duplicate key fails only its own item", async () => {
    const a = requestRecord();
    const dup = requestRecord();
    const stolen = requestRecord();
    await store.beginRequests([a, dup, stolen]);
    // A payout with dup's id already exists (as if written by an earlier owner).
    await store.insert(newPayout({ id: dup.payoutId }), "merchant:test");
    const outcomes = await store.insertPayouts([
      { row: newPayout({ id: a.payoutId }), actor: "merchant:m_loops", owner: a.owner },
      { row: newPayout({ id: dup.payoutId }), actor: "merchant:m_loops", owner: dup.owner },
      { row: newPayout({ id: stolen.payoutId }), actor: "merchant:m_loops", owner: randomUUID() },
    ]);
    expect(outcomes[0]).toEqual({ ok: true, value: "created" });
    expect(outcomes[1]?.ok).toBe(false);
    expect(outcomes[2]).toEqual({ ok: true, value: "lost" });
    expect((await store.getRequest(a.payoutId))?.state).toBe("done");
    expect((await store.getRequest(stolen.payoutId))?.state).toBe("in_progress");
    expect(await store.get("m_loops", stolen.payoutId)).toBeUndefined();
  });

  it("begin: the first of several requests with one key in a group owns it, the others see its record", async () => {
    const first = requestRecord();
    const second = { ...first, owner: randomUUID() };
    const outcomes = await store.beginRequests([first, second]);
    expect(outcomes[0]).toEqual({ ok: true, value: { started: true } });
    expect(outcomes[1]).toMatchObject({ ok: true, value: { started: false, record: { owner: first.owner } } });
    const later = await store.beginRequests([{ ...first, owner: randomUUID() }]);
    expect(later[0]).toMatchObject({ ok: true, value: { started: false } });
  });

  it("purges stored errors past their expiry, never done or abandoned keys", async () => {
    const past = new Date(Date.now() - 1000);
    const failed = requestRecord({ state: "failed", expiresAt: past });
    const abandoned = requestRecord({ state: "abandoned", expiresAt: past });
    const done = requestRecord({ state: "done", expiresAt: past });
    await store.beginRequests([failed, abandoned, done]);
    expect(await store.purgeExpiredRequests(100)).toBe(1);
    expect(await store.getRequest(failed.payoutId)).toBeUndefined();
    expect(await store.getRequest(abandoned.payoutId)).toBeDefined();
    expect(await store.getRequest(done.payoutId)).toBeDefined();
  });

  it("relay: one SettleHolds and one Publish per round; final-in-the-same-state is done, the opposite is an invariant breach", async () => {
    const paid = newPayout();
    const capturedAlready = newPayout();
    const releasedInstead = newPayout();
    const neverHeld = newPayout();
    const queue = async (row: PayoutRow, kind: "capture" | "release") =>
      query(
        "insert into outbox (id, payout_id, kind, merchant_id, payload, attempts, next_attempt_at, created_at) values (?, ?, ?, ?, null, 0, ?, ?)",
        [
          `${kind}_${row.id}`,
          row.id,
          kind,
          row.merchantId,
          ...(db.kind === "sqlite" ? [Date.now(), Date.now()] : [new Date(), new Date()]),
        ],
      );
    await queue(paid, "capture");
    await queue(capturedAlready, "capture");
    await queue(releasedInstead, "capture");
    await queue(neverHeld, "release");
    const updated = newPayout();
    await store.insert(updated, "merchant:test"); // one event
    const calls = { settle: 0, publish: 0, events: 0 };
    const subjects: string[] = [];
    const results: Record<string, { errorCode?: string; errorReason?: string }> = {
      [paid.id]: {},
      [capturedAlready.id]: { errorCode: "FailedPrecondition", errorReason: Reason.HOLD_ALREADY_FINAL },
      [releasedInstead.id]: { errorCode: "FailedPrecondition", errorReason: Reason.HOLD_ALREADY_FINAL },
      [neverHeld.id]: { errorCode: "NotFound", errorReason: Reason.NOT_FOUND },
    };
    const ledger = {
      async settleHolds(req: { settlements: Array<{ holdId: string; action: SettleAction }> }) {
        calls.settle++;
        return {
          results: req.settlements.map((s) => ({
            holdId: s.holdId,
            errorCode: "",
            errorReason: "",
            ...results[s.holdId],
          })),
        };
      },
      async getHold(req: { holdId: string }) {
        const status = req.holdId === releasedInstead.id ? HoldStatus.RELEASED : HoldStatus.CAPTURED;
        return { hold: { holdId: req.holdId, status } };
      },
    } as unknown as Client<typeof LedgerService>;
    const notifier = {
      async publish(req: { events: Array<{ subjectId: string }> }) {
        calls.publish++;
        calls.events += req.events.length;
        subjects.push(...req.events.map((e) => e.subjectId));
        return {};
      },
    } as unknown as Client<typeof NotifierService>;
    const relay = new OutboxRelay(
      store,
      ledger,
      notifier,
      { tickSeconds: 59, batchSize: 100, leaseMs: 30_000, retryBaseMs: 1000, retryCapMs: 300_000 },
      logger,
      { metrics },
    );
    relay.loop.wake();
    await sleep(100);
    await relay.loop.stop();
    expect(calls).toEqual({ settle: 1, publish: 1, events: 1 });
    expect(subjects).toEqual([updated.id]);
    const open = await query("select payout_id, next_attempt_at from outbox");
    expect(open.map((r) => r.payout_id)).toEqual([releasedInstead.id]);
    // Retried slowly: at the backoff cap's scale, not in a second.
    expect(new Date(open[0]!.next_attempt_at as string).getTime()).toBeGreaterThan(Date.now() + 900);
    expect(await registry.metrics()).toMatch(/payout_outbox_relay_errors_total\{kind="invariant"\} 1/);
  });
});

describe("seed mode", () => {
  it("reproduces the old system unless a variable is set explicitly", () => {
    const parse = (env: Record<string, string>) => withSeedMode(parseConfig(payoutsSettings, env), env);
    expect(parse({ PAYOUTS_SEED_MODE: "true" })).toMatchObject({
      PROCESSOR_TICK_SECONDS: 5,
      PROCESSOR_BATCH_SIZE: 10,
      PROCESSOR_CONCURRENCY: 1,
      BANK_DELAY_MS: 1000,
    });
    expect(parse({ PAYOUTS_SEED_MODE: "true", BANK_DELAY_MS: "0" })).toMatchObject({ BANK_DELAY_MS: 0 });
    expect(parse({})).toMatchObject({
      PROCESSOR_TICK_SECONDS: 1,
      PROCESSOR_BATCH_SIZE: 100,
      PROCESSOR_CONCURRENCY: 32,
    });
  });
});
