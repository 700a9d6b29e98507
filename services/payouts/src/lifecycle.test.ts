import { randomUUID } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  Code,
  createLogger,
  dropTestDatabases,
  errorDetails,
  openDatabase,
  payoutStatusName,
  testStorage,
} from "@mypay/kit";
import { HoldStatus } from "@mypay/proto/mypay/ledger/v1/ledger";
import { DestinationType, type Payout, PayoutStatus } from "@mypay/proto/mypay/payouts/v1/payouts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fingerprintOf } from "./domain/create-payout.ts";
import { newPayoutId } from "./domain/payout-id.ts";
import { Reconciler } from "./reconciler.ts";
import { entities } from "./store/entities.ts";
import { migrations } from "./store/migrations/index.ts";
import { PayoutStore, type RequestRecord } from "./store/payout-store.ts";
import {
  adminClient,
  asMerchant,
  eventually,
  ledgerClient,
  payoutsClient,
  type ServiceProcess,
  startService,
} from "./test-processes.ts";
import { requestRecord } from "./test-records.ts";

const storage = testStorage();
const engine = storage.DATABASE_URL ? "MariaDB/MySQL" : "SQLite";
const OPENING = 100_000_000n; // 1,000,000.00 PKR

/**
 * The payout lifecycle end to end against real ledger, notifier and payouts processes: every seed
 * scenario with its final state and balance, review, cancel, on-hold, idempotency and history.
 */
describe(`payout lifecycle on ${engine} (ledger + notifier + payouts processes)`, () => {
  let ledgerProc: ServiceProcess;
  let notifierProc: ServiceProcess;
  let payoutsProc: ServiceProcess;
  let ledger: ReturnType<typeof ledgerClient>;
  let payouts: ReturnType<typeof payoutsClient>;
  let admin: ReturnType<typeof adminClient>;

  beforeAll(async () => {
    [ledgerProc, notifierProc] = await Promise.all([
      startService("ledger", storage),
      startService("notifier", storage),
    ]);
    payoutsProc = await startService("payouts", storage, {
      LEDGER_URL: ledgerProc.url,
      NOTIFIER_URL: notifierProc.url,
      BANK_DELAY_MS: "0",
      RETRY_BASE_MS: "50",
      RETRY_CAP_MS: "200",
    });
    ledger = ledgerClient(ledgerProc.url);
    payouts = payoutsClient(payoutsProc.url);
    admin = adminClient(payoutsProc.url);
  }, 90_000);

  afterAll(async () => {
    await Promise.all([payoutsProc?.stop(), ledgerProc?.stop(), notifierProc?.stop()]);
    await dropTestDatabases(storage);
  });

  /** A fresh merchant with the opening balance. */
  async function merchant(): Promise<string> {
    const id = `m_${randomUUID().slice(0, 8)}`;
    await ledger.topUp({ merchantId: id, amount: { currency: "PKR", minorUnits: OPENING }, idempotencyKey: id });
    return id;
  }

  const request = (accountNumber: string, minorUnits = 100_000n, key: string = randomUUID()) => ({
    idempotencyKey: key,
    merchantReference: `ref-${key.slice(0, 8)}`,
    amount: { currency: "PKR", minorUnits },
    destType: DestinationType.BANK,
    bankCode: "HBL",
    accountNumber,
    accountTitle: "Ali Khan",
  });

  const create = async (merchantId: string, accountNumber: string, minorUnits = 100_000n) =>
    (await payouts.createPayout(request(accountNumber, minorUnits), asMerchant(merchantId))).payout!;

  const statusOf = async (merchantId: string, id: string) =>
    payoutStatusName((await payouts.getPayout({ id }, asMerchant(merchantId))).payout!.status);

  const settled = (merchantId: string, id: string, status: string) =>
    eventually(async () => ((await statusOf(merchantId, id)) === status ? true : undefined), 20_000, `${id} ${status}`);

  const holdOf = async (id: string) => (await ledger.getHold({ holdId: id })).hold!.status;

  /** Waits for the hold to be settled the expected way (the relay runs after the status change). */
  const holdBecomes = (id: string, status: HoldStatus) =>
    eventually(async () => ((await holdOf(id)) === status ? true : undefined), 20_000, `hold ${id}`);

  /** The request record of a create that died after writing it: in progress, its lock run out at `at`. */
  const deadRequest = (
    merchantId: string,
    req: ReturnType<typeof request>,
    payoutId: string,
    at: Date,
    fingerprint: string,
  ): RequestRecord =>
    requestRecord({
      payoutId,
      merchantId,
      idempotencyKey: req.idempotencyKey,
      fingerprint,
      lockedUntil: at,
      createdAt: at,
      updatedAt: at,
    });

  /** Runs `use` with a store on the running payouts process's own database, as a crashed process left it. */
  async function withStore<T>(use: (store: PayoutStore) => Promise<T>): Promise<T> {
    const db = await openDatabase({
      service: "payouts",
      settings: storage,
      entities,
      migrations,
      logger: createLogger("payouts-test", "silent"),
    });
    try {
      return await use(new PayoutStore(db));
    } finally {
      await db.close();
    }
  }

  const balance = async (merchantId: string) => (await ledger.getBalance({ merchantId, currency: "PKR" })).balance!;

  const failure = async (call: Promise<unknown>) => {
    try {
      await call;
    } catch (err) {
      return errorDetails(err);
    }
    throw new Error("expected the call to fail");
  };

  it.each([
    ["0001", "SUCCESS", HoldStatus.CAPTURED],
    ["0002", "SUCCESS", HoldStatus.CAPTURED],
    ["0003", "FAILED", HoldStatus.RELEASED],
    ["7777", "SUCCESS", HoldStatus.CAPTURED],
  ] as const)("seed scenario %s ends %s with the hold %s", async (suffix, final, hold) => {
    const m = await merchant();
    const payout = await create(m, `123456${suffix}`);
    expect(payoutStatusName(payout.status)).toBe("PENDING");
    await settled(m, payout.id, final);
    await holdBecomes(payout.id, hold);
    const b = await balance(m);
    expect(b.lockedMinor).toBe(0n);
    expect(b.balanceMinor).toBe(final === "SUCCESS" ? OPENING - 100_000n : OPENING);
    const done = (await payouts.getPayout({ id: payout.id }, asMerchant(m))).payout!;
    if (final === "SUCCESS") expect(done.pspReference).toMatch(/^PSP/);
    if (final === "FAILED") expect(done.failureCode).toBe("ACCOUNT_CLOSED");
    expect(done.processedAt).toBeDefined();
    if (suffix === "0002") {
      expect(done.attempts).toBe(2);
      const history = (await payouts.getPayoutHistory({ id: payout.id }, asMerchant(m))).transitions;
      expect(history.map((t) => payoutStatusName(t.to))).toEqual([
        "PENDING",
        "PROCESSING",
        "RETRY",
        "PROCESSING",
        "SUCCESS",
      ]);
    }
  });

  it("0004: the bank never answers, so the payout stays PENDING, asked again on a backoff, funds locked", async () => {
    const m = await merchant();
    const payout = await create(m, "1234560004");
    await eventually(async () => {
      const p = (await payouts.getPayout({ id: payout.id }, asMerchant(m))).payout!;
      return p.attempts >= 2 && payoutStatusName(p.status) === "PENDING" ? p : undefined;
    });
    const p = (await payouts.getPayout({ id: payout.id }, asMerchant(m))).payout!;
    expect(p.nextAttemptAt).toBeDefined();
    expect((await balance(m)).lockedMinor).toBe(100_000n);
    // No busy loop: the history shows only a few attempts, not hundreds.
    const history = (await payouts.getPayoutHistory({ id: payout.id }, asMerchant(m))).transitions;
    expect(history.length).toBeLessThan(40);
    // Cancelled, the hold is released.
    await eventually(async () => {
      try {
        return await payouts.cancelPayout({ id: payout.id, reason: "changed my mind" }, asMerchant(m));
      } catch {
        return undefined; // momentarily PROCESSING
      }
    });
    await holdBecomes(payout.id, HoldStatus.RELEASED);
    expect(await balance(m)).toMatchObject({ lockedMinor: 0n, balanceMinor: OPENING });
  });

  it("0005: ON_HOLD, then released to PENDING by an admin goes on hold again; FailHold fails it and releases", async () => {
    const m = await merchant();
    const payout = await create(m, "1234560005");
    await settled(m, payout.id, "ON_HOLD");
    const released = await admin.releaseHold(
      { id: payout.id, reason: "checked" },
      { headers: { "mypay-actor": "ops-1" } },
    );
    expect(payoutStatusName(released.payout!.status)).toBe("PENDING");
    await settled(m, payout.id, "ON_HOLD");
    const failed = await admin.failHold(
      { id: payout.id, reason: "sanctions hit" },
      { headers: { "mypay-actor": "ops-2" } },
    );
    expect(failed.payout).toMatchObject({ failureCode: "HOLD_FAILED", failureMessage: "sanctions hit" });
    await holdBecomes(payout.id, HoldStatus.RELEASED);
    const history = (await payouts.getPayoutHistory({ id: payout.id }, asMerchant(m))).transitions;
    expect(history.find((t) => t.actor === "admin:ops-1")).toMatchObject({ reason: "checked" });
    expect(history.at(-1)).toMatchObject({ actor: "admin:ops-2", reason: "sanctions hit", to: PayoutStatus.FAILED });
    expect(await failure(admin.failHold({ id: payout.id, reason: "again" }))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "ILLEGAL_TRANSITION",
      metadata: { currentStatus: "FAILED" },
    });
  });

  it("review: a large payout waits IN_REVIEW; approve processes it, reject fails it (REVIEW_REJECTED) and releases", async () => {
    const m = await merchant();
    const big = 10_000_000n; // 100,000.00
    const approved = await create(m, "1234560001", big);
    const rejected = await create(m, "1234560001", big);
    expect(payoutStatusName(approved.status)).toBe("IN_REVIEW");
    const queue = await admin.listAllPayouts({ merchantId: m, filter: { statuses: [PayoutStatus.IN_REVIEW] } });
    expect(queue.payouts.map((p) => p.id).sort()).toEqual([approved.id, rejected.id].sort());

    expect(await failure(admin.rejectPayout({ id: rejected.id, reason: " " }))).toMatchObject({
      code: Code.InvalidArgument,
      field: "reason",
    });
    await admin.approvePayout({ id: approved.id });
    const r = await admin.rejectPayout({ id: rejected.id, reason: "unusual amount" });
    expect(r.payout).toMatchObject({ failureCode: "REVIEW_REJECTED", status: PayoutStatus.FAILED });
    await settled(m, approved.id, "SUCCESS");
    await holdBecomes(approved.id, HoldStatus.CAPTURED);
    await holdBecomes(rejected.id, HoldStatus.RELEASED);
    expect(await balance(m)).toMatchObject({ lockedMinor: 0n, balanceMinor: OPENING - big });
    expect(await failure(admin.approvePayout({ id: rejected.id }))).toMatchObject({ reason: "ILLEGAL_TRANSITION" });
    expect(await failure(admin.approvePayout({ id: "po_missing" }))).toMatchObject({ code: Code.NotFound });
  });

  it("cancel: IN_REVIEW cancels and releases; a final payout cannot be cancelled; another merchant sees nothing", async () => {
    const m = await merchant();
    const p = await create(m, "1234560001", 10_000_000n);
    expect(await failure(payouts.cancelPayout({ id: p.id }, asMerchant("m_other")))).toMatchObject({
      code: Code.NotFound,
    });
    const c = await payouts.cancelPayout({ id: p.id, reason: "duplicate" }, asMerchant(m));
    expect(payoutStatusName(c.payout!.status)).toBe("CANCELLED");
    await holdBecomes(p.id, HoldStatus.RELEASED);
    expect(await failure(payouts.cancelPayout({ id: p.id }, asMerchant(m)))).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "ILLEGAL_TRANSITION",
      metadata: { currentStatus: "CANCELLED" },
    });
    const history = (await payouts.getPayoutHistory({ id: p.id }, asMerchant(m))).transitions;
    expect(history.at(-1)).toMatchObject({ actor: `merchant:${m}`, reason: "duplicate", to: PayoutStatus.CANCELLED });
  });

  it("idempotency: 50 concurrent creates with one key make one payout and one hold", async () => {
    const m = await merchant();
    const req = request("1234560004", 12_345n);
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, () => payouts.createPayout(req, asMerchant(m))),
    );
    const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
    const errors = results.flatMap((r) => (r.status === "rejected" ? [errorDetails(r.reason)] : []));
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(new Set(ok.map((r) => r.payout!.id)).size).toBe(1);
    expect(ok.filter((r) => !r.replayed)).toHaveLength(1);
    for (const e of errors) expect(e).toMatchObject({ code: Code.Aborted, reason: "IDEMPOTENCY_IN_PROGRESS" });
    expect((await balance(m)).lockedMinor).toBe(12_345n);
    const list = await payouts.listPayouts({}, asMerchant(m));
    expect(list.payouts).toHaveLength(1);
    const again = await payouts.createPayout(req, asMerchant(m));
    expect(again).toMatchObject({ replayed: true, payout: { id: ok[0]!.payout!.id } });
    expect(await failure(payouts.createPayout({ ...req, accountTitle: "Someone Else" }, asMerchant(m)))).toMatchObject({
      code: Code.Aborted,
      reason: "IDEMPOTENCY_MISMATCH",
    });
  });

  it("idempotency: keys that differ only in case are different keys", async () => {
    const m = await merchant();
    const key = `Order-${randomUUID()}`;
    const keys = [key, key.toLowerCase(), key.toUpperCase()];
    const made = await Promise.all(
      keys.map((k) => payouts.createPayout(request("1234560004", 1_000n, k), asMerchant(m))),
    );
    expect(made.map((r) => r.replayed)).toEqual([false, false, false]);
    expect(new Set(made.map((r) => r.payout!.id)).size).toBe(3);
    expect((await balance(m)).lockedMinor).toBe(3_000n);
  });

  it("idempotency: a first INSUFFICIENT_FUNDS is replayed as the same error, even after a top-up", async () => {
    const m = await merchant();
    const req = request("1234560001", OPENING + 1n);
    const first = await failure(payouts.createPayout(req, asMerchant(m)));
    expect(first).toMatchObject({ code: Code.FailedPrecondition, reason: "INSUFFICIENT_FUNDS" });
    await ledger.topUp({ merchantId: m, amount: { currency: "PKR", minorUnits: OPENING }, idempotencyKey: `${m}-2` });
    const replay = await failure(payouts.createPayout(req, asMerchant(m)));
    expect(replay).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "INSUFFICIENT_FUNDS",
      message: first.message,
      metadata: { replayed: "true" },
    });
    expect((await payouts.listPayouts({}, asMerchant(m))).payouts).toHaveLength(0);
    expect((await balance(m)).lockedMinor).toBe(0n);
  });

  it("lists newest first with cursor paging, status and time filters", async () => {
    const m = await merchant();
    const before = new Date();
    const made: Payout[] = [];
    for (let i = 0; i < 5; i++) made.push(await create(m, "1234560004", 1_000n + BigInt(i)));
    const review = await create(m, "1234560001", 10_000_000n);
    const page1 = await payouts.listPayouts({ page: { limit: 4 } }, asMerchant(m));
    expect(page1.hasMore).toBe(true);
    const page2 = await payouts.listPayouts(
      { page: { limit: 4, startingAfter: page1.payouts.at(-1)!.id } },
      asMerchant(m),
    );
    expect(page2.hasMore).toBe(false);
    const ids = [...page1.payouts, ...page2.payouts].map((p) => p.id);
    expect(ids).toEqual([review, ...made.reverse()].map((p) => p.id));
    const inReview = await payouts.listPayouts({ filter: { statuses: [PayoutStatus.IN_REVIEW] } }, asMerchant(m));
    expect(inReview.payouts.map((p) => p.id)).toEqual([review.id]);
    const none = await payouts.listPayouts({ filter: { createdBefore: timestampFromDate(before) } }, asMerchant(m));
    expect(none.payouts).toHaveLength(0);
    expect(await failure(payouts.listPayouts({ page: { limit: 101 } }, asMerchant(m)))).toMatchObject({
      code: Code.InvalidArgument,
      field: "limit",
    });
    expect((await payouts.listPayouts({}, asMerchant("m_nobody"))).payouts).toHaveLength(0);
  });

  it("refuses creates RESOURCE_EXHAUSTED / BACKLOG_FULL past PAYOUTS_MAX_BACKLOG (retryable), replays still answer", async () => {
    // Its own payouts database, with no processor, so nothing drains the backlog meanwhile.
    const own = await startService("payouts", storage, {
      DATABASE_PREFIX: `${storage.DATABASE_PREFIX}_bl`,
      DATA_DIR: `${storage.DATA_DIR}/backlog`,
      LEDGER_URL: ledgerProc.url,
      NOTIFIER_URL: notifierProc.url,
      PAYOUTS_PROCESSOR: "false",
      PAYOUTS_MAX_BACKLOG: "2",
    });
    try {
      const client = payoutsClient(own.url);
      const m = await merchant();
      await client.createPayout(request("1234560001"), asMerchant(m));
      await client.createPayout(request("1234560001"), asMerchant(m));
      const refused = await eventually(async () => {
        try {
          await client.createPayout(request("1234560001"), asMerchant(m));
          return undefined;
        } catch (err) {
          return errorDetails(err);
        }
      });
      expect(refused).toMatchObject({ code: Code.ResourceExhausted, reason: "BACKLOG_FULL" });
    } finally {
      await own.stop();
    }
  });

  it("reconciler: a hold whose create crashed before the insert is released after the grace period", async () => {
    const m = await merchant();
    const req = request("1234560001", 54_321n);
    const id = newPayoutId();
    // The crashed create: its request record (written before the hold) and its hold, but no payout.
    await withStore(async (store) => {
      await store.beginRequests([deadRequest(m, req, id, new Date(Date.now() - 600_000), "crashed")]);
      await ledger.hold({ merchantId: m, holdId: id, amount: req.amount });
      expect((await balance(m)).lockedMinor).toBe(54_321n);
      const reconciler = new Reconciler(
        store,
        { tickSeconds: 59, graceMs: 300_000, holdWindowMs: 10_000, batchSize: 10, keepMs: 86_400_000, purgeBatch: 10 },
        createLogger("payouts-test", "silent"),
        () => {},
      );
      await reconciler.round();
    });
    // The running payouts process relays the queued release.
    await holdBecomes(id, HoldStatus.RELEASED);
    expect(await balance(m)).toMatchObject({ lockedMinor: 0n, balanceMinor: OPENING });
  });

  it("a retry of a create that died after its hold converges on the first request's payout id and hold", async () => {
    const m = await merchant();
    const req = request("1234560001", 24_680n);
    const id = newPayoutId();
    // The dead create: its request record with an expired lock, and its hold, but no payout.
    const fingerprint = fingerprintOf({ ...req, currency: "PKR", amount: req.amount.minorUnits, destType: "BANK" });
    const [begun] = await withStore((store) =>
      store.beginRequests([deadRequest(m, req, id, new Date(Date.now() - 1_000), fingerprint)]),
    );
    expect(begun).toMatchObject({ ok: true, value: { started: true } });
    await ledger.hold({ merchantId: m, holdId: id, amount: req.amount });
    const retried = (await payouts.createPayout(req, asMerchant(m))).payout!;
    expect(retried.id).toBe(id);
    await settled(m, id, "SUCCESS");
    await holdBecomes(id, HoldStatus.CAPTURED);
    expect(await balance(m)).toMatchObject({ lockedMinor: 0n, balanceMinor: OPENING - 24_680n });
  });

  it("exposes the payout metrics", async () => {
    const text = await (await fetch(`${payoutsProc.url}/metrics`)).text();
    for (const name of [
      "payouts_created_total",
      "payout_transitions_total",
      "payout_time_to_final_seconds",
      "payout_processor_lag_seconds",
      "payout_processor_batch_size",
      "payouts_in_status",
      "payout_outbox_backlog",
      "payout_bank_calls_total",
    ]) {
      expect(text).toContain(name);
    }
    expect(text).toMatch(/payout_transitions_total\{[^}]*from="PROCESSING"[^}]*to="SUCCESS"/);
  });
});
