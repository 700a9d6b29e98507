import { create } from "@bufbuild/protobuf";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { Code, ConnectError, createRpcClient, type DualListener, listenHttp1And2, MERCHANT_HEADER } from "@mypay/kit";
import { PayoutBatchService, PayoutSchema } from "@mypay/proto/mypay/payouts/v1/payouts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { PayoutReader } from "./payout-reads.ts";

/**
 * The reader against a real BatchGetPayouts server over h2c: each merchant owns the ids that start with
 * its name; the server records every call so the tests can see how reads were coalesced.
 */
describe("PayoutReader", () => {
  let server: DualListener;
  let calls: { merchantId: string; ids: string[] }[];
  let inFlight = 0;
  let mostInFlight = 0;
  let failNext = false;

  beforeAll(async () => {
    const handler = connectNodeAdapter({
      routes: (router) =>
        router.service(PayoutBatchService, {
          async batchGetPayouts(req, ctx) {
            const merchantId = ctx.requestHeader.get(MERCHANT_HEADER) ?? "";
            calls.push({ merchantId, ids: req.ids });
            mostInFlight = Math.max(mostInFlight, ++inFlight);
            try {
              await new Promise((r) => setTimeout(r, 5));
              if (failNext) throw new ConnectError("payouts is down", Code.Unavailable);
              const owned = req.ids.filter((id) => id.startsWith(merchantId));
              return { payouts: owned.map((id) => create(PayoutSchema, { id, merchantId })) };
            } finally {
              inFlight--;
            }
          },
        }),
    });
    server = await listenHttp1And2(handler, 0, "127.0.0.1");
  });

  afterAll(() => server.close());

  beforeEach(() => {
    calls = [];
    mostInFlight = 0;
    failNext = false;
  });

  const reader = (maxBatch = 100, concurrency = 1, sizes: number[] = []) =>
    new PayoutReader(createRpcClient(PayoutBatchService, `http://127.0.0.1:${server.port}`, { timeoutMs: 2000 }), {
      maxBatch,
      concurrency,
      timeoutMs: 2000,
      onBatch: (size) => sizes.push(size),
    });

  it("answers concurrent reads of one merchant from one call, each with its own payout", async () => {
    const sizes: number[] = [];
    const reads = reader(100, 1, sizes);
    const ids = ["mA_1", "mA_2", "mA_3", "mA_2"];
    const payouts = await Promise.all(ids.map((id, n) => reads.get("mA", id, `req_${n}`)));
    expect(payouts.map((p) => p.id)).toEqual(ids);
    expect(calls).toEqual([{ merchantId: "mA", ids: ["mA_1", "mA_2", "mA_3"] }]);
    expect(sizes).toEqual([3]);
  });

  it("never mixes merchants in one call, and another merchant's or an unknown id is NOT_FOUND", async () => {
    const reads = reader();
    const results = await Promise.allSettled([
      reads.get("mA", "mA_1", "r1"),
      reads.get("mB", "mB_1", "r2"),
      reads.get("mB", "mA_1", "r3"),
      reads.get("mA", "mA_2", "r4"),
      reads.get("mA", "nobody", "r5"),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "rejected"]);
    for (const r of results) {
      if (r.status === "rejected") expect(ConnectError.from(r.reason).code).toBe(Code.NotFound);
    }
    expect(calls.map((c) => c.merchantId).sort()).toEqual(["mA", "mB"]);
    for (const call of calls) expect(call.ids.length).toBeGreaterThan(0);
    expect(calls.find((c) => c.merchantId === "mB")?.ids.sort()).toEqual(["mA_1", "mB_1"]);
  });

  it("cuts batches at maxBatch and keeps at most `concurrency` calls in flight per merchant", async () => {
    const sizes: number[] = [];
    const reads = reader(4, 2, sizes);
    const ids = Array.from({ length: 20 }, (_, n) => `mA_${n}`);
    const payouts = await Promise.all(ids.map((id) => reads.get("mA", id, "r")));
    expect(payouts.map((p) => p.id)).toEqual(ids);
    expect(sizes.every((s) => s <= 4)).toBe(true);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(20);
    expect(mostInFlight).toBe(2);
  });

  it("fails every read of a failed call with its error, and serves the next reads again", async () => {
    const reads = reader();
    failNext = true;
    const failed = await Promise.allSettled([reads.get("mA", "mA_1", "r1"), reads.get("mA", "mA_2", "r2")]);
    for (const r of failed) {
      expect(r.status).toBe("rejected");
      if (r.status === "rejected") expect(ConnectError.from(r.reason).code).toBe(Code.Unavailable);
    }
    failNext = false;
    expect((await reads.get("mA", "mA_1", "r3")).id).toBe("mA_1");
  });
});
