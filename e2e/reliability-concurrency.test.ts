import { setTimeout as sleep } from "node:timers/promises";
import { dropTestDatabases, testStorage } from "@mypay/kit";
import { HoldStatus } from "@mypay/proto/mypay/ledger/v1/ledger";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectInvariants, holdStatus, type LedgerClient, ledgerAt, settledBalance } from "./books.ts";
import { eventually, type RunningMesh, startMesh } from "./mesh.ts";
import { recordFigures } from "./reliability-summary.ts";
import { createMerchant, payoutBody, pool, RestClient } from "./rest-client.ts";

/**
 * Concurrency through the whole mesh: one idempotency key raced 50 times, 200 payouts racing for
 * the money of 100, and cancels racing the processor. Each race must end with one outcome and the
 * books exact.
 */
const storage = testStorage();
const engine = storage.DATABASE_URL ? "MariaDB/MySQL" : "embedded SQLite";

describe(`reliability: concurrency on ${engine}`, () => {
  let mesh: RunningMesh;
  let ledger: LedgerClient;

  beforeAll(async () => {
    mesh = await startMesh(storage, {
      BANK_DELAY_MS: "30",
      RATE_LIMIT_WRITE_BURST: "100000",
      RATE_LIMIT_READ_BURST: "100000",
    });
    ledger = ledgerAt(`http://127.0.0.1:${mesh.ports.LEDGER_PORT}`);
  }, 90_000);

  afterAll(async () => {
    const code = await mesh?.stop();
    if (code !== 0) console.error(mesh?.output.slice(-30).join("\n"));
    await dropTestDatabases(storage);
  });

  it("50 concurrent creates with one idempotency key make one payout and one hold", async () => {
    const api = new RestClient(mesh.gatewayUrl, await createMerchant(mesh.gatewayUrl, "mch_same_key", "1000.00"));
    const body = payoutBody("same-key", "0001", "250.00");
    const answers = await Promise.all(Array.from({ length: 50 }, () => api.createUntilAnswered("same-key", body)));
    const ids = new Set(answers.map((a) => a.body.id));
    expect(answers.map((a) => a.status)).toEqual(new Array(50).fill(201));
    expect(ids.size).toBe(1);
    // Everyone but the first is told it got a replay.
    const fresh = answers.filter((a) => a.headers.get("idempotent-replayed") !== "true");
    expect(fresh.length).toBeLessThanOrEqual(1);
    const [id] = [...ids] as string[];
    const listed = await api.send("GET", "/api/v1/payouts?limit=100");
    expect((listed.body.data as { id: string }[]).map((p) => p.id)).toEqual([id]);

    await eventually(async () =>
      (await api.send("GET", `/api/v1/payouts/${id}`)).body.status === "SUCCESS" ? true : undefined,
    );
    const balance = await settledBalance(ledger, "mch_same_key");
    expect(balance.balanceMinor).toBe(75_000n);
    const entries = await api.send("GET", "/api/v1/ledger/entries?limit=100");
    const holds = (entries.body.data as { transferKind: string; holdId: string }[]).filter(
      (e) => e.transferKind === "hold",
    );
    // One hold transfer = its debit and its credit entry.
    expect(holds.map((e) => e.holdId)).toEqual([id, id]);
    expect(await holdStatus(ledger, id!)).toBe(HoldStatus.CAPTURED);
    await expectInvariants(ledger);
    recordFigures("concurrency: one key × 50", { faults: 50, payouts: 1, invariants: 1 });
  });

  it("200 concurrent payouts of 100.00 against 10,000.00: exactly 100 accepted, no overdraft", async () => {
    const api = new RestClient(mesh.gatewayUrl, await createMerchant(mesh.gatewayUrl, "mch_race", "10000.00"));
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        api.createUntilAnswered(`race-${i}`, payoutBody(`race-${i}`, "0001", "100.00")),
      ),
    );
    const accepted = answers.filter((a) => a.status === 201);
    const refused = answers.filter((a) => a.status === 422);
    expect(accepted).toHaveLength(100);
    expect(refused).toHaveLength(100);
    for (const r of refused) expect((r.body.error as { code: string }).code).toBe("insufficient_funds");

    const ids = accepted.map((a) => a.body.id as string);
    await pool(ids, 16, (id) =>
      eventually(
        async () => ((await api.send("GET", `/api/v1/payouts/${id}`)).body.status === "SUCCESS" ? true : undefined),
        60_000,
      ),
    );
    const balance = await settledBalance(ledger, "mch_race");
    expect(balance).toMatchObject({ balanceMinor: 0n, availableMinor: 0n, lockedMinor: 0n });
    for (const id of ids) expect(await holdStatus(ledger, id)).toBe(HoldStatus.CAPTURED);
    await expectInvariants(ledger);
    recordFigures("concurrency: 200 racing for 100", { faults: 200, payouts: 200, invariants: 1 });
  }, 120_000);

  it("cancel racing the processor: one outcome per payout, the money follows it", async () => {
    const api = new RestClient(mesh.gatewayUrl, await createMerchant(mesh.gatewayUrl, "mch_cancel", "1000.00"));
    const n = 60;
    const results = await pool(
      Array.from({ length: n }, (_, i) => i),
      20,
      async (i) => {
        const created = await api.createUntilAnswered(`cancel-${i}`, payoutBody(`cancel-${i}`, "0001", "10.00"));
        expect(created.status).toBe(201);
        const id = created.body.id as string;
        // Half cancel at once (racing the processor's claim), half during the bank call or after.
        if (i % 2 === 1) await sleep(Math.random() * 60);
        const cancel = await api.send("POST", `/api/v1/payouts/${id}/cancel`, { body: {} });
        return { id, cancel };
      },
    );
    let cancelled = 0;
    for (const { id, cancel } of results) {
      expect([200, 409], JSON.stringify(cancel.body)).toContain(cancel.status);
      const want = cancel.status === 200 ? "CANCELLED" : "SUCCESS";
      if (cancel.status === 200) {
        cancelled++;
        expect(cancel.body.status).toBe("CANCELLED");
      }
      await eventually(
        async () => {
          const status = (await api.send("GET", `/api/v1/payouts/${id}`)).body.status;
          return status === want ? true : undefined;
        },
        30_000,
        `${id} ${want}`,
      );
    }
    const balance = await settledBalance(ledger, "mch_cancel");
    expect(balance.balanceMinor).toBe(100_000n - BigInt(n - cancelled) * 1_000n);
    for (const { id, cancel } of results) {
      expect(await holdStatus(ledger, id)).toBe(cancel.status === 200 ? HoldStatus.RELEASED : HoldStatus.CAPTURED);
    }
    await expectInvariants(ledger);
    console.log(`[reliability] cancel race: ${cancelled} of ${n} cancelled before processing, the rest succeeded`);
    recordFigures("concurrency: cancel vs processing", { faults: n, payouts: n, invariants: 1 });
  }, 120_000);
});
