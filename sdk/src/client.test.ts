import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttp2Server, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ErrorInfoSchema } from "@mypay/proto/google/rpc/error_details";
import { BalanceService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { PayoutSchema, PayoutService, PayoutStatus } from "@mypay/proto/mypay/payouts/v1/payouts";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MyPay, type MyPayOptions, VERSION } from "./client.ts";
import {
  ApiConnectionError,
  IdempotencyError,
  InsufficientFundsError,
  InvalidRequestError,
  type MyPayError,
  NotFoundError,
  RateLimitError,
} from "./errors.ts";

/**
 * A fake gateway at the edge of the SDK's world: scripted failures in front of canned answers, so
 * retries, keys and error mapping are checked without a mesh.
 */
interface Seen {
  idempotencyKey: string;
  requestId: string;
  apiKey: string;
}
let failures: ConnectError[] = [];
let seen: Seen[] = [];
const API_KEY = "mypay_test_fake";

const payout = (id: string, minor: bigint) =>
  create(PayoutSchema, {
    id,
    status: PayoutStatus.PENDING,
    amount: { currency: "PKR", minorUnits: minor },
    merchantReference: "order-1",
    bankCode: "HBL",
    accountNumber: "1234560001",
    accountTitle: "Ali Khan",
  });

const routes = createConnectRouter()
  .service(PayoutService, {
    createPayout(req, ctx) {
      seen.push({
        idempotencyKey: req.idempotencyKey,
        requestId: ctx.requestHeader.get("x-request-id") ?? "",
        apiKey: ctx.requestHeader.get("x-api-key") ?? "",
      });
      const failure = failures.shift();
      if (failure) throw failure;
      return { payout: payout(`po_${req.idempotencyKey.slice(0, 8)}`, req.amount?.minorUnits ?? 0n) };
    },
    getPayout(req) {
      if (req.id !== "po_1") throw new ConnectError("payout not found", Code.NotFound);
      return { payout: payout("po_1", 100000n) };
    },
    listPayouts(req) {
      const all = ["po_5", "po_4", "po_3", "po_2", "po_1"];
      const from = req.page?.startingAfter ? all.indexOf(req.page.startingAfter) + 1 : 0;
      const ids = all.slice(from, from + 2);
      return { payouts: ids.map((id) => payout(id, 100n)), hasMore: from + 2 < all.length };
    },
    cancelPayout() {
      seen.push({ idempotencyKey: "", requestId: "", apiKey: "" });
      throw failures.shift() ?? new ConnectError("no", Code.FailedPrecondition);
    },
  })
  .service(BalanceService, {
    getMyBalance() {
      return {
        balance: { currency: "PKR", balanceMinor: 100000000n, lockedMinor: 100000n, availableMinor: 99900000n },
      };
    },
  });

const domainError = (
  code: Code,
  reason: string,
  metadata: Record<string, string> = {},
  headers: Record<string, string> = {},
) =>
  new ConnectError("scripted", code, headers, [
    { desc: ErrorInfoSchema, value: create(ErrorInfoSchema, { reason, domain: "mypay.dev", metadata }) },
  ]);

/** REST fake: answers the next scripted status (with Retry-After when given), then 201. */
let restScript: { status: number; retryAfter?: string; body?: unknown }[] = [];
let restSeen: { method: string; url: string; key: string; requestId: string; body: string }[] = [];
async function restHandler(req: IncomingMessage, res: import("node:http").ServerResponse) {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  restSeen.push({
    method: req.method ?? "",
    url: req.url ?? "",
    key: String(req.headers["x-idempotency-key"] ?? ""),
    requestId: String(req.headers["x-request-id"] ?? ""),
    body: Buffer.concat(chunks).toString(),
  });
  const next = restScript.shift();
  if (next) {
    res.writeHead(next.status, {
      "content-type": "application/json",
      ...(next.retryAfter ? { "retry-after": next.retryAfter } : {}),
    });
    res.end(JSON.stringify(next.body ?? { error: { code: "unavailable", message: "down", requestId: "req_gw" } }));
    return;
  }
  res.writeHead(201, { "content-type": "application/json" });
  res.end(JSON.stringify({ id: "po_rest", status: "PENDING", amount: "1000.00", currency: "PKR" }));
}

let http1: Server;
let http2: Http2Server;
let restServer: Server;
let base1 = "";
let base2 = "";
let restBase = "";

const listen = async (server: Server | Http2Server) => {
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};

beforeAll(async () => {
  const adapter = connectNodeAdapter({
    routes: (router) => {
      for (const h of routes.handlers) router.handlers.push(h);
    },
  });
  http1 = createHttpServer(adapter);
  http2 = createHttp2Server(adapter);
  restServer = createHttpServer((req, res) => void restHandler(req, res));
  base1 = await listen(http1);
  base2 = await listen(http2);
  restBase = await listen(restServer);
});

afterAll(async () => {
  http1.closeAllConnections();
  restServer.closeAllConnections();
  await Promise.all(
    [http1, http2, restServer].map((s) => new Promise((done) => (s as Server).close(() => done(undefined)))),
  );
});

beforeEach(() => {
  failures = [];
  seen = [];
  restScript = [];
  restSeen = [];
});

const fast = { retryBaseDelayMs: 5, retryMaxDelayMs: 20 };
const clients: MyPay[] = [];
const client = (options: Partial<MyPayOptions> & { transport: MyPayOptions["transport"] }) => {
  const baseUrl = options.transport === "grpc" ? base2 : options.transport === "rest" ? restBase : base1;
  const c = new MyPay({ apiKey: API_KEY, baseUrl, ...fast, ...options });
  clients.push(c);
  return c;
};
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
});

const params = {
  amount: "1000.00",
  currency: "PKR",
  merchantReference: "order-1",
  bankCode: "HBL",
  accountNumber: "1234560001",
  accountTitle: "Ali Khan",
};

describe.each(["connect", "grpc-web", "grpc"] as const)("the %s transport against a fake gateway", (transport) => {
  it("creates a payout with a generated key, reused across retries of UNAVAILABLE", async () => {
    failures = [new ConnectError("down", Code.Unavailable), new ConnectError("down", Code.Unavailable)];
    const created = await client({ transport }).payouts.create(params);
    expect(created).toMatchObject({ status: "PENDING", amount: "1000.00", currency: "PKR" });
    expect(seen).toHaveLength(3);
    expect(new Set(seen.map((s) => s.idempotencyKey)).size).toBe(1);
    expect(seen[0]!.idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(seen.map((s) => s.requestId)).size).toBe(1);
    expect(seen[0]!.apiKey).toBe(API_KEY);
  });

  it("maps domain errors to typed errors and does not retry them", async () => {
    failures = [domainError(Code.FailedPrecondition, "INSUFFICIENT_FUNDS")];
    await expect(client({ transport }).payouts.create(params)).rejects.toBeInstanceOf(InsufficientFundsError);
    failures = [domainError(Code.InvalidArgument, "INVALID_ARGUMENT", { field: "bankCode" })];
    const invalid = await client({ transport })
      .payouts.create(params)
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(InvalidRequestError);
    expect((invalid as InvalidRequestError).param).toBe("bankCode");
    failures = [domainError(Code.Aborted, "IDEMPOTENCY_MISMATCH")];
    await expect(client({ transport }).payouts.create(params, { idempotencyKey: "k1" })).rejects.toBeInstanceOf(
      IdempotencyError,
    );
    expect(seen).toHaveLength(3);
    await expect(client({ transport }).payouts.get("po_404")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("gives up after maxRetries with the last error", async () => {
    failures = Array.from({ length: 5 }, () => domainError(Code.ResourceExhausted, "RATE_LIMITED"));
    const err = await client({ transport, maxRetries: 1 })
      .payouts.create(params)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect(seen).toHaveLength(2);
  });

  it("pages through lists lazily and reads the balance", async () => {
    const mypay = client({ transport });
    const pages: string[][] = [];
    for await (const page of mypay.payouts.list({ limit: 2 })) pages.push(page.data.map((p) => p.id));
    expect(pages).toEqual([["po_5", "po_4"], ["po_3", "po_2"], ["po_1"]]);
    expect((await mypay.payouts.list().toArray()).length).toBe(5);
    expect(await mypay.balance.get()).toEqual({
      currency: "PKR",
      balance: "1000000.00",
      locked: "1000.00",
      available: "999000.00",
    });
  });
});

describe("retry rules", () => {
  it("does not retry a call that is neither idempotent nor keyed (cancel)", async () => {
    failures = [new ConnectError("down", Code.Unavailable)];
    await expect(client({ transport: "connect" }).payouts.cancel("po_1")).rejects.toBeInstanceOf(ApiConnectionError);
    expect(seen).toHaveLength(1);
  });

  it("refuses float amounts before any call", async () => {
    const mypay = client({ transport: "connect" });
    const err = await mypay.payouts.create({ ...params, amount: 1000 as unknown as string }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).param).toBe("amount");
    expect(seen).toHaveLength(0);
  });

  it("REST: retries 503 and 429 with the same key, honouring Retry-After", async () => {
    restScript = [{ status: 503 }, { status: 429, retryAfter: "1", body: { error: { code: "rate_limited" } } }];
    const started = Date.now();
    const created = await client({ transport: "rest" }).payouts.create(params, { idempotencyKey: "order-1" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(created.id).toBe("po_rest");
    expect(restSeen.map((s) => s.key)).toEqual(["order-1", "order-1", "order-1"]);
    expect(new Set(restSeen.map((s) => s.requestId)).size).toBe(1);
    expect(JSON.parse(restSeen[0]!.body)).toMatchObject({ amount: "1000.00", destType: "BANK" });
  });

  it("REST: throws a Retry-After longer than the SDK waits for at once", async () => {
    restScript = [{ status: 429, retryAfter: "120", body: { error: { code: "rate_limited" } } }];
    const err = await client({ transport: "rest" })
      .payouts.create(params)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).retryAfter).toBe(120);
    expect(restSeen).toHaveLength(1);
  });

  it("REST: a 400 is thrown at once with its param and request id", async () => {
    restScript = [
      {
        status: 400,
        body: { error: { code: "invalid_argument", param: "bankCode", message: "m", requestId: "req_x" } },
      },
    ];
    const err = (await client({ transport: "rest" })
      .payouts.create(params)
      .catch((e: unknown) => e)) as InvalidRequestError;
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect([err.param, err.requestId, err.httpStatus]).toEqual(["bankCode", "req_x", 400]);
    expect(restSeen).toHaveLength(1);
  });

  it.each(["connect", "rest", "grpc"] as const)("%s: an unreachable gateway is an ApiConnectionError", async (t) => {
    const mypay = new MyPay({ apiKey: API_KEY, baseUrl: "http://127.0.0.1:9", transport: t, maxRetries: 1, ...fast });
    clients.push(mypay);
    const err = (await mypay.balance.get().catch((e: unknown) => e)) as MyPayError;
    expect(err).toBeInstanceOf(ApiConnectionError);
    expect(err.requestId).toMatch(/^req_/);
  });

  it("times out each attempt after timeoutMs", async () => {
    const slow = createHttpServer(() => {});
    const url = await listen(slow);
    const mypay = new MyPay({ apiKey: API_KEY, baseUrl: url, transport: "rest", timeoutMs: 100, maxRetries: 0 });
    const err = (await mypay.balance.get().catch((e: unknown) => e)) as MyPayError;
    slow.closeAllConnections();
    slow.close();
    expect(err).toBeInstanceOf(ApiConnectionError);
    expect(err.code).toBe("TIMEOUT");
  });

  it("reports the package's own version", async () => {
    const { readFile } = await import("node:fs/promises");
    const manifest = JSON.parse(await readFile(new URL("../package.json", import.meta.url), "utf8"));
    expect(VERSION).toBe(manifest.version);
  });

  it("validates options in the constructor", () => {
    expect(() => new MyPay({ apiKey: "" })).toThrow(/apiKey/);
    expect(() => new MyPay({ apiKey: "k", transport: "soap" as "rest" })).toThrow(/transport/);
    expect(() => new MyPay({ apiKey: "k", baseUrl: "ftp://x" })).toThrow(/baseUrl/);
    expect(() => new MyPay({ apiKey: "k", maxRetries: -1 })).toThrow(/maxRetries/);
  });
});
