import { dropTestDatabases, testStorage } from "@mypay/kit";
import { HoldStatus } from "@mypay/proto/mypay/ledger/v1/ledger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  expectInvariants,
  expectNothingLockedFor,
  holdStatus,
  type LedgerClient,
  ledgerAt,
  settledBalance,
} from "./books.ts";
import { type DelayProxy, startDelayProxy } from "./delay-proxy.ts";
import { eventually } from "./mesh.ts";
import { recordFigures } from "./reliability-summary.ts";
import { type Answer, createMerchant, payoutBody, pool, RestClient } from "./rest-client.ts";
import { leakedSecrets } from "./secret-scan.ts";
import { ServiceSet } from "./services.ts";

/**
 * Slow dependencies: a TCP proxy holds back every byte from the ledger (to payouts) or from the
 * database (to payouts). Deadlines must fire, clients must hear 503/504 quickly, and once the delay
 * is gone, retries with the same keys must converge on exactly one payout each with exact books.
 */
const storage = testStorage();
const onServer = Boolean(storage.DATABASE_URL);
const engine = onServer ? "MariaDB/MySQL" : "embedded SQLite";
const GATEWAY_DEADLINE_MS = 2_000;
/** The gateway's deadline plus room for a loaded 2-core machine: "quickly", not "eventually". */
const ANSWER_BOUND_MS = GATEWAY_DEADLINE_MS + 1_500;
const INJECTED_DELAY_MS = 3_000;
const PAYOUTS = 20;

if (!onServer) console.warn("[reliability] SKIPPED slow-database test: embedded SQLite has no server to slow down");

describe(`reliability: slow ledger and slow database on ${engine}`, () => {
  let services: ServiceSet;
  let ledger: LedgerClient;
  let ledgerProxy: DelayProxy;
  let dbProxy: DelayProxy | undefined;

  beforeAll(async () => {
    services = await ServiceSet.create(storage, {
      BANK_DELAY_MS: "10",
      RATE_LIMIT_WRITE_BURST: "100000",
      RECONCILE_GRACE_SECONDS: "2",
      RECONCILE_TICK_SECONDS: "1",
      IDEMPOTENCY_LOCK_MS: "3000",
      RETRY_BASE_MS: "100",
      RETRY_CAP_MS: "1000",
    });
    await Promise.all([services.start("ledger"), services.start("notifier")]);
    ledgerProxy = await startDelayProxy(services.ports.ledger);
    const payoutsEnv: Record<string, string> = {
      LEDGER_URL: `http://127.0.0.1:${ledgerProxy.port}`,
      RPC_TIMEOUT_MS: "1000",
    };
    if (storage.DATABASE_URL) {
      const db = new URL(storage.DATABASE_URL);
      dbProxy = await startDelayProxy(Number(db.port || 3306));
      db.host = `127.0.0.1:${dbProxy.port}`;
      payoutsEnv.DATABASE_URL = db.toString();
    }
    await services.start("payouts", payoutsEnv);
    await services.start("gateway", { RPC_TIMEOUT_MS: String(GATEWAY_DEADLINE_MS) });
    ledger = ledgerAt(services.url("ledger"));
  }, 120_000);

  afterAll(async () => {
    await services?.stopAll();
    // Timeouts and outages are where error logs carry requests and connection details.
    expect(leakedSecrets(services?.output ?? [], [])).toEqual([]);
    await ledgerProxy?.close();
    await dbProxy?.close();
    await dropTestDatabases(storage);
  });

  /** Sends `PAYOUTS` creates while `proxy` is slow; every answer must be a quick 503/504. */
  async function createWhileSlow(api: RestClient, proxy: DelayProxy, tag: string): Promise<Answer[]> {
    proxy.setDelay(INJECTED_DELAY_MS);
    const answers = await pool(
      Array.from({ length: PAYOUTS }, (_, i) => i),
      PAYOUTS,
      (i) =>
        api.send("POST", "/api/v1/payouts", {
          body: payoutBody(`${tag}-${i}`, "0001"),
          headers: { "x-idempotency-key": `${tag}-${i}` },
        }),
    );
    proxy.setDelay(0);
    const slowest = Math.max(...answers.map((a) => a.ms));
    console.log(
      `[reliability] ${tag}: ${PAYOUTS} creates answered ${[...new Set(answers.map((a) => a.status))].join("/")} in ≤ ${Math.round(slowest)} ms`,
    );
    for (const a of answers) {
      expect([503, 504], JSON.stringify(a.body)).toContain(a.status);
      expect((a.body.error as { requestId?: string }).requestId).toEqual(expect.any(String));
    }
    expect(slowest).toBeLessThan(ANSWER_BOUND_MS);
    return answers;
  }

  /**
   * Retries every key until it gets a definite answer, then proves the books: a key that made a
   * payout has exactly one, settled once; a key whose first create was abandoned (it outlived
   * RECONCILE_GRACE_SECONDS and its hold was released) has none. Nothing in between.
   */
  async function convergeAndCheck(api: RestClient, merchantId: string, tag: string, opening: bigint) {
    const answers = await pool(
      Array.from({ length: PAYOUTS }, (_, i) => i),
      PAYOUTS,
      (i) => api.createUntilAnswered(`${tag}-${i}`, payoutBody(`${tag}-${i}`, "0001")),
    );
    const created = answers.filter((a) => a.status === 201);
    const abandoned = answers.filter(
      (a) => a.status === 422 && (a.body.error as { code?: string }).code === "request_abandoned",
    );
    expect(created.length + abandoned.length, JSON.stringify(answers.map((a) => a.body))).toBe(PAYOUTS);
    const ids = created.map((c) => c.body.id as string);
    expect(new Set(ids).size).toBe(created.length);
    await pool(ids, 8, (id) =>
      eventually(
        async () => ((await api.send("GET", `/api/v1/payouts/${id}`)).body.status === "SUCCESS" ? true : undefined),
        60_000,
        `${id} SUCCESS`,
      ),
    );
    const listed = await api.send("GET", "/api/v1/payouts?limit=100");
    expect((listed.body.data as { id: string }[]).map((p) => p.id).sort()).toEqual([...ids].sort());
    const balance = await settledBalance(ledger, merchantId);
    expect(balance.balanceMinor).toBe(opening - BigInt(created.length) * 1_000n);
    for (const id of ids) expect(await holdStatus(ledger, id)).toBe(HoldStatus.CAPTURED);
    await expectInvariants(ledger);
    expect(services.unexpectedExits).toEqual([]);
    console.log(
      `[reliability] ${tag}: after the delay, ${created.length} payouts made, ${abandoned.length} keys abandoned`,
    );
  }

  it("a slow ledger: the deadline fires, clients get 503/504 at once, retries converge, nothing half-applied", async () => {
    const api = new RestClient(
      services.url("gateway"),
      await createMerchant(services.url("gateway"), "mch_slow_ledger", "1000.00"),
    );
    await createWhileSlow(api, ledgerProxy, "slow-ledger");
    await convergeAndCheck(api, "mch_slow_ledger", "slow-ledger", 100_000n);
    recordFigures("slow ledger (3 s per answer)", { faults: PAYOUTS, payouts: PAYOUTS, invariants: 1 });
  }, 120_000);

  it.skipIf(!onServer)(
    "a slow database: the deadline fires, clients get 503/504 at once, nothing half-applied",
    async () => {
      const api = new RestClient(
        services.url("gateway"),
        await createMerchant(services.url("gateway"), "mch_slow_db", "1000.00"),
      );
      await createWhileSlow(api, dbProxy!, "slow-db");
      // Reads behind a slow database are bounded by the same deadline.
      dbProxy!.setDelay(INJECTED_DELAY_MS);
      const read = await api.send("GET", "/api/v1/payouts?limit=10");
      dbProxy!.setDelay(0);
      expect([503, 504]).toContain(read.status);
      expect(read.ms).toBeLessThan(ANSWER_BOUND_MS);
      // Let the held-back statements finish, as they would when a slow database recovers. Each timed-out
      // create got its key only after the key's lock (IDEMPOTENCY_LOCK_MS) had run out, so it must not
      // send its hold: the reconciler may have given it up already, and a hold placed after its release
      // would stay locked for good.
      await expectNothingLockedFor(ledger, "mch_slow_db", 2 * INJECTED_DELAY_MS);
      await convergeAndCheck(api, "mch_slow_db", "slow-db", 100_000n);
      recordFigures("slow database (3 s per answer)", { faults: PAYOUTS + 1, payouts: PAYOUTS, invariants: 1 });
    },
    120_000,
  );
});
