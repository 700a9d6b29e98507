import { type ChildProcess, spawn } from "node:child_process";
import * as http2 from "node:http2";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  type Client,
  Code,
  ConnectError,
  type ConnectRouter,
  createClient,
  type HandlerContext,
  type Interceptor,
  type ServiceImpl,
  type Transport,
} from "@connectrpc/connect";
import { findTrailerError } from "@connectrpc/connect/protocol-grpc";
import { compressionGzip, connectNodeAdapter, createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import {
  AccountKind,
  BalanceService,
  LedgerService,
  ListEntriesResponseSchema,
} from "@mypay/proto/mypay/ledger/v1/ledger";
import {
  type CreatePayoutRequest,
  CreatePayoutRequestSchema,
  CreatePayoutResponseSchema,
  DestinationType,
  PayoutService,
  PayoutStatus,
} from "@mypay/proto/mypay/payouts/v1/payouts";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appError, errorDetails, Reason } from "./errors.ts";
import { createGrpcUnaryTransport } from "./grpc-unary-transport.ts";
import { createMetrics, type ServiceMetrics } from "./metrics.ts";
import { createRpcClient } from "./rpc-client.ts";
import { startRpcServer } from "./rpc-server.ts";
import { freePort, hasExited } from "./testing.ts";

const MAX_INT64 = 9_223_372_036_854_775_807n;
const MIN_INT64 = -9_223_372_036_854_775_808n;
/** Longest a deliberately slow handler waits for its signal before giving up. */
const SLOW_HANDLER_MS = 5_000;
const protoDir = resolve(import.meta.dirname, "../../proto");

/** What a slow handler saw: its deadline on entry and, once aborted, why and after how long. */
interface SlowCall {
  timeoutMs: number | undefined;
  aborted: Promise<{ code: Code; afterMs: number }>;
}

/** Lines the server logged, parsed. */
type LogLine = { msg: string; err?: { message?: string; stack?: string } };

/**
 * The services under test. Payouts echo what they receive (every field type of a real message);
 * `getPayout`'s id picks a behaviour: an app error, a plain Error, a slow call, or a report of its deadline.
 */
function testServices(slowCalls: Map<string, SlowCall>) {
  const payouts: Partial<ServiceImpl<typeof PayoutService>> = {
    createPayout(req, ctx) {
      const test = ctx.requestHeader.get("x-test");
      if (test !== null) {
        ctx.responseHeader.set("x-echo-header", test);
        ctx.responseTrailer.set("x-echo-trailer", `${test}-trailer`);
      }
      return {
        payout: {
          id: `po_${req.idempotencyKey}`,
          merchantId: ctx.requestHeader.get("mypay-merchant-id") ?? "",
          merchantReference: req.merchantReference,
          amount: req.amount,
          status: PayoutStatus.IN_REVIEW,
          destType: req.destType,
          bankCode: req.bankCode,
          accountNumber: req.accountNumber,
          accountTitle: req.accountTitle,
          pspReference: "PSP0001",
          attempts: 2_147_483_647,
          createdAt: timestampFromMs(1_700_000_000_123),
          processedAt: timestampFromMs(0),
        },
        replayed: true,
      };
    },
    async getPayout(req, ctx) {
      switch (req.id) {
        case "app-error":
          ctx.responseHeader.set("x-error-header", "kept");
          ctx.responseTrailer.set("x-error-trailer", "kept");
          throw appError(Code.FailedPrecondition, Reason.INSUFFICIENT_FUNDS, "available 5 is less than 10", {
            field: "amount",
            metadata: { availableMinor: "5" },
          });
        case "plain-error":
          throw new Error("password=hunter2 at db.internal:3306");
        case "deadline":
          return { payout: { id: "deadline", failureMessage: String(ctx.timeoutMs()) } };
        case "slow":
          return slow(ctx, slowCalls);
        default:
          return { payout: { id: req.id } };
      }
    },
  };
  const ledger: Partial<ServiceImpl<typeof LedgerService>> = {
    listEntries(req) {
      return create(ListEntriesResponseSchema, {
        entries: [
          {
            id: "e1",
            merchantId: req.merchantId,
            account: req.account,
            currency: req.currency,
            amountMinor: MIN_INT64,
            createdAt: req.createdAfter,
          },
          { id: "e2", account: AccountKind.SETTLEMENT, amountMinor: MAX_INT64 },
        ],
        hasMore: req.page?.limit === 2,
      });
    },
  };
  return (router: ConnectRouter) => router.service(PayoutService, payouts).service(LedgerService, ledger);
}

/** Waits for the call's signal (as a handler passing it to its database would), then fails with its reason. */
async function slow(ctx: HandlerContext, slowCalls: Map<string, SlowCall>): Promise<never> {
  const started = Date.now();
  const aborted = new Promise<{ code: Code; afterMs: number }>((done) => {
    const report = () => done({ code: ConnectError.from(ctx.signal.reason).code, afterMs: Date.now() - started });
    if (ctx.signal.aborted) report();
    else ctx.signal.addEventListener("abort", report, { once: true });
  });
  slowCalls.set(ctx.requestHeader.get("x-call-id") ?? "", { timeoutMs: ctx.timeoutMs(), aborted });
  await Promise.race([aborted, sleep(SLOW_HANDLER_MS)]);
  throw ctx.signal.aborted ? ctx.signal.reason : new Error("the slow handler was never aborted");
}

/** The slow call the server has seen under `id` (waits for it to arrive). */
async function seenSlowCall(slowCalls: Map<string, SlowCall>, id: string): Promise<SlowCall> {
  for (let i = 0; i < 400 && !slowCalls.has(id); i++) await sleep(5);
  const call = slowCalls.get(id);
  if (!call) throw new Error(`the server never saw slow call ${id}`);
  return call;
}

const fullRequest = (key: string, accountTitle = "Ali Khan"): CreatePayoutRequest =>
  create(CreatePayoutRequestSchema, {
    idempotencyKey: key,
    merchantReference: "ref-ü-✓",
    amount: { currency: "PKR", minorUnits: MAX_INT64 },
    destType: DestinationType.BANK,
    bankCode: "HBL",
    accountNumber: "1234560001",
    accountTitle,
  });

async function rejection(promise: Promise<unknown>): Promise<ConnectError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  return err as ConnectError;
}

/** A server logger whose lines the test can read. */
function capturingLogger(lines: LogLine[]) {
  return pino({ level: "error" }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
}

interface Pair {
  name: string;
  /** True when the server is startRpcServer (the lean server). */
  leanServer: boolean;
  start(slowCalls: Map<string, SlowCall>, logLines: LogLine[]): Promise<{ baseUrl: string; close(): Promise<void> }>;
  transport(baseUrl: string): Transport;
}

async function startLeanServer(slowCalls: Map<string, SlowCall>, logLines: LogLine[]) {
  const listener = await startRpcServer({
    port: 0,
    host: "127.0.0.1",
    logger: capturingLogger(logLines),
    registry: createMetrics("grpc-unary-test").registry,
    routes: testServices(slowCalls),
    ready: async () => true,
  });
  return { baseUrl: `http://127.0.0.1:${listener.port}`, close: () => listener.close() };
}

/** connect-node alone (no fast path): what the lean client must interoperate with. */
async function startConnectNodeServer(slowCalls: Map<string, SlowCall>) {
  const server = http2.createServer(connectNodeAdapter({ routes: testServices(slowCalls) }));
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as { port: number };
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
      }),
  };
}

const leanTransport = (baseUrl: string) => createGrpcUnaryTransport({ baseUrl, defaultTimeoutMs: 10_000 });

const pairs: Pair[] = [
  { name: "lean client → startRpcServer", leanServer: true, start: startLeanServer, transport: leanTransport },
  {
    name: "connect-node gRPC client → startRpcServer",
    leanServer: true,
    start: startLeanServer,
    transport: (baseUrl) => createGrpcTransport({ baseUrl, defaultTimeoutMs: 10_000 }),
  },
  {
    name: "lean client → connect-node server",
    leanServer: false,
    start: startConnectNodeServer,
    transport: leanTransport,
  },
];

describe.each(pairs)("unary gRPC: $name", (pair) => {
  const slowCalls = new Map<string, SlowCall>();
  const logLines: LogLine[] = [];
  let server: { baseUrl: string; close(): Promise<void> };
  let payouts: Client<typeof PayoutService>;
  let ledger: Client<typeof LedgerService>;

  beforeAll(async () => {
    server = await pair.start(slowCalls, logLines);
    const transport = pair.transport(server.baseUrl);
    payouts = createClient(PayoutService, transport);
    ledger = createClient(LedgerService, transport);
  });

  afterAll(async () => {
    await server.close();
  });

  it("round-trips every field type of a real message, int64 extremes as bigint", async () => {
    const res = await payouts.createPayout(fullRequest("k1"));
    expect(res.replayed).toBe(true);
    expect(res.payout).toMatchObject({
      id: "po_k1",
      merchantReference: "ref-ü-✓",
      amount: { currency: "PKR", minorUnits: MAX_INT64 },
      status: PayoutStatus.IN_REVIEW,
      destType: DestinationType.BANK,
      bankCode: "HBL",
      accountNumber: "1234560001",
      accountTitle: "Ali Khan",
      pspReference: "PSP0001",
      failureCode: "",
      attempts: 2_147_483_647,
      createdAt: { seconds: 1_700_000_000n, nanos: 123_000_000 },
      processedAt: { seconds: 0n, nanos: 0 },
    });
    expect(res.payout?.updatedAt).toBeUndefined();

    const entries = await ledger.listEntries({
      merchantId: "m1",
      account: AccountKind.LOCKED,
      currency: "PKR",
      createdAfter: timestampFromMs(1_600_000_000_000),
      page: { limit: 2, startingAfter: "e0" },
    });
    expect(entries.hasMore).toBe(true);
    expect(entries.entries.map((e) => [e.id, e.merchantId, e.account, e.currency, e.amountMinor])).toEqual([
      ["e1", "m1", AccountKind.LOCKED, "PKR", MIN_INT64],
      ["e2", "", AccountKind.SETTLEMENT, "", MAX_INT64],
    ]);
    expect(typeof entries.entries[0]?.amountMinor).toBe("bigint");
    expect(entries.entries[0]?.createdAt).toMatchObject({ seconds: 1_600_000_000n, nanos: 0 });
  });

  it("passes request headers to ctx.requestHeader and the handler's response headers and trailers back", async () => {
    let header: Headers | undefined;
    let trailer: Headers | undefined;
    const res = await payouts.createPayout(fullRequest("k2"), {
      headers: { "x-test": "hello", "mypay-merchant-id": "mch_1" },
      onHeader: (h) => {
        header = h;
      },
      onTrailer: (t) => {
        trailer = t;
      },
    });
    expect(res.payout?.merchantId).toBe("mch_1");
    expect(header?.get("x-echo-header")).toBe("hello");
    expect(trailer?.get("x-echo-trailer")).toBe("hello-trailer");
    expect(header?.get("x-echo-trailer")).toBeNull();
  });

  it("carries an appError's code, message, ErrorInfo reason and metadata, and the handler's headers and trailers", async () => {
    const err = await rejection(payouts.getPayout({ id: "app-error" }));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.rawMessage).toBe("available 5 is less than 10");
    expect(errorDetails(err)).toEqual({
      code: Code.FailedPrecondition,
      message: "available 5 is less than 10",
      decided: true,
      reason: Reason.INSUFFICIENT_FUNDS,
      field: "amount",
      metadata: { availableMinor: "5" },
    });
    expect(err.metadata.get("x-error-header")).toBe("kept");
    expect(err.metadata.get("x-error-trailer")).toBe("kept");
  });

  it("answers a plain Error as INTERNAL 'internal error', with none of its internals on the wire", async () => {
    const before = logLines.length;
    const err = await rejection(payouts.getPayout({ id: "plain-error" }));
    expect(err.code).toBe(Code.Internal);
    expect(err.rawMessage).toBe("internal error");
    expect(errorDetails(err).decided).toBe(false);
    expect(JSON.stringify([err.message, [...err.metadata]])).not.toContain("hunter2");
    if (pair.leanServer) {
      const logged = logLines.slice(before).filter((line) => line.msg === "rpc failed unexpectedly");
      expect(logged).toHaveLength(1);
      expect(JSON.stringify(logged[0])).toContain("hunter2");
    }
  });

  it("answers UNIMPLEMENTED for a method without a handler and for a service the server does not serve", async () => {
    expect((await rejection(ledger.hold({ holdId: "h1" }))).code).toBe(Code.Unimplemented);
    const other = await pair.start(new Map(), []);
    try {
      const stranger = createClient(BalanceService, pair.transport(other.baseUrl));
      expect((await rejection(stranger.getMyBalance({ currency: "PKR" }))).code).toBe(Code.Unimplemented);
    } finally {
      // The 404 leaves connect-node's client holding its connection open: closing must not wait for it.
      const closing = other.close().then(() => "closed");
      expect(await Promise.race([closing, sleep(2_000).then(() => "still waiting")])).toBe("closed");
    }
  });

  it("fails a call slower than its deadline with DEADLINE_EXCEEDED in time, and aborts the handler's signal", async () => {
    const started = Date.now();
    const err = await rejection(payouts.getPayout({ id: "slow" }, { timeoutMs: 300, headers: { "x-call-id": "d1" } }));
    const elapsed = Date.now() - started;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(1_000);
    const call = await seenSlowCall(slowCalls, "d1");
    expect(call.timeoutMs).toBeGreaterThan(200);
    expect(call.timeoutMs).toBeLessThanOrEqual(300);
    const aborted = await call.aborted;
    expect([Code.DeadlineExceeded, Code.Canceled]).toContain(aborted.code);
    expect(aborted.afterMs).toBeGreaterThan(200);
    expect(aborted.afterMs).toBeLessThan(1_000);
  });

  it("shows the handler the client's deadline in ctx.timeoutMs(), and none for timeoutMs: 0", async () => {
    const given = Number((await payouts.getPayout({ id: "deadline" }, { timeoutMs: 4_000 })).payout?.failureMessage);
    expect(given).toBeGreaterThan(3_500);
    expect(given).toBeLessThanOrEqual(4_000);
    const byDefault = Number((await payouts.getPayout({ id: "deadline" })).payout?.failureMessage);
    expect(byDefault).toBeGreaterThan(9_000);
    expect(byDefault).toBeLessThanOrEqual(10_000);
    expect((await payouts.getPayout({ id: "deadline" }, { timeoutMs: 0 })).payout?.failureMessage).toBe("undefined");
  });

  it("cancels a call when the caller's signal aborts (CANCELED), and the handler's signal aborts", async () => {
    const abort = new AbortController();
    const pending = payouts.getPayout({ id: "slow" }, { signal: abort.signal, headers: { "x-call-id": "c1" } });
    const call = await seenSlowCall(slowCalls, "c1");
    const started = Date.now();
    abort.abort();
    const err = await rejection(pending);
    expect(err.code).toBe(Code.Canceled);
    expect(Date.now() - started).toBeLessThan(200);
    const aborted = await call.aborted;
    expect(aborted.code).toBe(Code.Canceled);
    const late = await rejection(payouts.getPayout({ id: "x" }, { signal: abort.signal }));
    expect(late.code).toBe(Code.Canceled);
  });

  it("carries a ~2 MB message in both directions", async () => {
    const title = "ابc".repeat(700_000);
    const res = await payouts.createPayout(fullRequest("big", title));
    expect(res.payout?.accountTitle.length).toBe(title.length);
    expect(res.payout?.accountTitle === title).toBe(true);
    expect(toBinary(CreatePayoutRequestSchema, fullRequest("big", title)).length).toBeGreaterThan(2_000_000);
  });

  it("completes 500 concurrent calls on one client", async () => {
    const results = await Promise.all(
      Array.from({ length: 500 }, (_, i) => payouts.createPayout(fullRequest(`c${i}`)).then((r) => r.payout?.id)),
    );
    expect(results).toEqual(Array.from({ length: 500 }, (_, i) => `po_c${i}`));
  });
});

describe("lean unary client behaviour", () => {
  const slowCalls = new Map<string, SlowCall>();
  const logLines: LogLine[] = [];
  let server: { baseUrl: string; close(): Promise<void> };

  beforeAll(async () => {
    server = await startLeanServer(slowCalls, logLines);
  });

  afterAll(async () => {
    await server.close();
  });

  it("sends the caller's metadata as web Headers would, and what interceptors read, set or replace", async () => {
    const call = async (headers: ConstructorParameters<typeof Headers>[0], ...interceptors: Interceptor[]) => {
      const payouts = createClient(
        PayoutService,
        createGrpcUnaryTransport({ baseUrl: server.baseUrl, defaultTimeoutMs: 5_000, interceptors }),
      );
      let echoed: string | null = null;
      const res = await payouts.createPayout(fullRequest("metadata"), {
        headers,
        onHeader: (h) => {
          echoed = h.get("x-echo-header");
        },
      });
      return { merchantId: res.payout?.merchantId, echoed };
    };
    expect(await call({ "mypay-merchant-id": "m1", "x-test": "plain" })).toEqual({ merchantId: "m1", echoed: "plain" });
    expect(await call({ "Mypay-Merchant-Id": "m2", "x-test": "  padded\t" })).toEqual({
      merchantId: "m2",
      echoed: "padded",
    });
    expect(await call([["x-test", "pairs"]])).toEqual({ merchantId: "", echoed: "pairs" });
    let seen: string | null = null;
    const reader: Interceptor = (next) => (req) => {
      seen = req.header.get("mypay-merchant-id");
      return next(req);
    };
    expect(await call({ "mypay-merchant-id": "m3" }, reader)).toEqual({ merchantId: "m3", echoed: null });
    expect(seen).toBe("m3");
    const setter: Interceptor = (next) => (req) => {
      req.header.set("x-test", "set");
      return next(req);
    };
    expect(await call({ "mypay-merchant-id": "m4" }, setter)).toEqual({ merchantId: "m4", echoed: "set" });
    const replacer: Interceptor = (next) => (req) => next({ ...req, header: new Headers({ "x-test": "replaced" }) });
    expect(await call({ "mypay-merchant-id": "m5", "x-test": "lost" }, replacer)).toEqual({
      merchantId: "",
      echoed: "replaced",
    });
    await expect(call({ "x-test": "line\r\nbreak" })).rejects.toThrow(TypeError);
  });

  it("applies createRpcClient's default deadline to calls that set none", async () => {
    const payouts = createRpcClient(PayoutService, server.baseUrl, { timeoutMs: 300 });
    const started = Date.now();
    const err = await rejection(payouts.getPayout({ id: "slow" }, { headers: { "x-call-id": "default-1" } }));
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await seenSlowCall(slowCalls, "default-1")).timeoutMs).toBeLessThanOrEqual(300);
    const none = await payouts.getPayout({ id: "deadline" }, { timeoutMs: 0 });
    expect(none.payout?.failureMessage).toBe("undefined");
  });

  it("keeps a deadline of days: encoded within grpc-timeout's 8 digits, and no early abort", async () => {
    const payouts = createRpcClient(PayoutService, server.baseUrl, { timeoutMs: 5_000 });
    for (const days of [2, 30]) {
      const timeoutMs = days * 86_400_000;
      const seen = Number((await payouts.getPayout({ id: "deadline" }, { timeoutMs })).payout?.failureMessage);
      expect(seen).toBeGreaterThan(timeoutMs - 2_000);
      expect(seen).toBeLessThanOrEqual(timeoutMs);
    }
    const abort = new AbortController();
    const pending = payouts.getPayout(
      { id: "slow" },
      { timeoutMs: 30 * 86_400_000, signal: abort.signal, headers: { "x-call-id": "days" } },
    );
    const call = await seenSlowCall(slowCalls, "days");
    await sleep(100);
    const early = await Promise.race([call.aborted, sleep(50).then(() => "still running")]);
    abort.abort();
    expect(early).toBe("still running");
    expect((await rejection(pending)).code).toBe(Code.Canceled);
  });

  it("fails fast with UNAVAILABLE when the connection is refused", async () => {
    const port = await freePort();
    const payouts = createRpcClient(PayoutService, `http://127.0.0.1:${port}`, { timeoutMs: 5_000 });
    for (let i = 0; i < 2; i++) {
      const started = Date.now();
      const err = await rejection(payouts.getPayout({ id: "x" }));
      expect(err.code).toBe(Code.Unavailable);
      expect(errorDetails(err).decided).toBe(false);
      expect(Date.now() - started).toBeLessThan(1_000);
    }
  });

  it("fails an in-flight call with UNAVAILABLE when the server shuts down, and closes promptly", async () => {
    const own = await startLeanServer(slowCalls, []);
    const payouts = createRpcClient(PayoutService, own.baseUrl, { timeoutMs: 5_000 });
    const pending = payouts.getPayout({ id: "slow" }, { headers: { "x-call-id": "shutdown-1" } });
    await seenSlowCall(slowCalls, "shutdown-1");
    const failed = rejection(pending);
    const started = Date.now();
    await own.close();
    const err = await failed;
    expect(err.code).toBe(Code.Unavailable);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect((await rejection(payouts.getPayout({ id: "x" }))).code).toBe(Code.Unavailable);
  });

  it.each([
    ["drops the connection after the response headers", Code.Unavailable, false],
    ["ends the stream without a gRPC status", Code.Unknown, true],
  ] as const)("fails a call whose server %s with gRPC code %i", async (_how, code, ended) => {
    // A raw server that starts a gRPC answer and stops short of its status, the way a killed process does.
    const raw = http2.createServer();
    raw.on("stream", (stream) => {
      stream.respond({ ":status": 200, "content-type": "application/grpc" });
      stream.write(envelope(0, Buffer.alloc(8), 16));
      if (ended) stream.end();
      else setImmediate(() => stream.session?.socket.destroy());
    });
    await new Promise<void>((done) => raw.listen(0, "127.0.0.1", done));
    const { port } = raw.address() as { port: number };
    try {
      const payouts = createRpcClient(PayoutService, `http://127.0.0.1:${port}`, { timeoutMs: 5_000 });
      const err = await rejection(payouts.getPayout({ id: "x" }));
      expect(err.code).toBe(code);
      expect(err.rawMessage).toContain(ended ? "HTTP 200 without a gRPC status" : "in the middle of an answer");
      expect(errorDetails(err).decided).toBe(false);
    } finally {
      await new Promise((done) => raw.close(done));
    }
  });

  it("counts fast-path calls in the RED metrics of both ends with the code the caller saw", async () => {
    const serverMetrics = createMetrics("grpc-unary-red-server");
    const clientMetrics = createMetrics("grpc-unary-red-client");
    const listener = await startRpcServer({
      port: 0,
      host: "127.0.0.1",
      logger: capturingLogger([]),
      registry: serverMetrics.registry,
      interceptors: [serverMetrics.serverInterceptor],
      routes: testServices(slowCalls),
      ready: async () => true,
    });
    try {
      const payouts = createRpcClient(PayoutService, `http://127.0.0.1:${listener.port}`, {
        timeoutMs: 5_000,
        interceptors: [clientMetrics.clientInterceptor],
      });
      const ledger = createRpcClient(LedgerService, `http://127.0.0.1:${listener.port}`, {
        timeoutMs: 5_000,
        interceptors: [clientMetrics.clientInterceptor],
      });
      await payouts.getPayout({ id: "a" });
      await payouts.getPayout({ id: "b" });
      await payouts.getPayout({ id: "app-error" }).catch(() => undefined);
      await payouts.getPayout({ id: "plain-error" }).catch(() => undefined);
      await payouts.getPayout({ id: "slow" }, { timeoutMs: 100 }).catch(() => undefined);
      await ledger.hold({ holdId: "h" }).catch(() => undefined);
      const expected = {
        "PayoutService/GetPayout/OK": 2,
        "PayoutService/GetPayout/FAILED_PRECONDITION": 1,
        "PayoutService/GetPayout/INTERNAL": 1,
        "LedgerService/Hold/UNIMPLEMENTED": 1,
      };
      expect(await handled(serverMetrics, "grpc_server_handled_total")).toMatchObject(expected);
      expect(await handled(clientMetrics, "grpc_client_handled_total")).toEqual({
        ...expected,
        "PayoutService/GetPayout/DEADLINE_EXCEEDED": 1,
      });
      const latency = await serverMetrics.registry.getSingleMetric("grpc_server_handling_seconds")?.get();
      const counted = latency?.values.find((v) => v.labels.le === "+Inf" && v.labels.grpc_method === "GetPayout");
      expect(counted?.value).toBe(5);
    } finally {
      await listener.close();
    }
  });
});

/** `service/method/code` → count, for every series of a handled-calls counter. */
async function handled(metrics: ServiceMetrics, name: string): Promise<Record<string, number>> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  const counts: Record<string, number> = {};
  for (const { labels, value } of metric?.values ?? []) {
    const service = String(labels.grpc_service).split(".").at(-1);
    counts[`${service}/${labels.grpc_method}/${labels.grpc_code}`] = value;
  }
  return counts;
}

/** One raw HTTP/2 request; resolves with response headers, body and trailers. */
function rawCall(
  baseUrl: string,
  path: string,
  headers: http2.OutgoingHttpHeaders,
  body: Buffer,
): Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }> {
  const session = http2.connect(baseUrl);
  return new Promise<{ headers: http2.IncomingHttpHeaders; body: Buffer; trailers: http2.IncomingHttpHeaders }>(
    (done, fail) => {
      session.on("error", fail);
      const stream = session.request({ ":method": "POST", ":path": path, te: "trailers", ...headers });
      let responseHeaders: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on("response", (h) => {
        responseHeaders = h;
      });
      stream.on("trailers", (t) => {
        trailers = t;
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", fail);
      stream.on("end", () => done({ headers: responseHeaders, body: Buffer.concat(chunks), trailers }));
      stream.end(body);
    },
  ).finally(() => session.close());
}

function envelope(flag: number, payload: Buffer, declaredLength = payload.length): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flag;
  head.writeUInt32BE(declaredLength, 1);
  return Buffer.concat([head, payload]);
}

/** The gRPC status of a raw answer (trailers-only answers carry it in the headers). */
function grpcStatus(res: { headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders }) {
  const final = res.trailers["grpc-status"] !== undefined ? res.trailers : res.headers;
  return { status: Number(final["grpc-status"]), message: decodeURIComponent(String(final["grpc-message"] ?? "")) };
}

describe("lean unary server framing", () => {
  const path = "/mypay.payouts.v1.PayoutService/CreatePayout";
  const grpcHeaders = { "content-type": "application/grpc" };
  const request = Buffer.from(toBinary(CreatePayoutRequestSchema, fullRequest("raw")));
  let server: { baseUrl: string; close(): Promise<void> };

  beforeAll(async () => {
    server = await startLeanServer(new Map(), []);
  });

  afterAll(async () => {
    await server.close();
  });

  it("answers a well-formed raw call", async () => {
    const res = await rawCall(server.baseUrl, path, grpcHeaders, envelope(0, request));
    expect(res.headers[":status"]).toBe(200);
    expect(res.headers["content-type"]).toBe("application/grpc");
    expect(grpcStatus(res)).toEqual({ status: 0, message: "" });
    const payload = res.body.subarray(5);
    expect(res.body.readUInt32BE(1)).toBe(payload.length);
    expect(fromBinary(CreatePayoutResponseSchema, payload).payout?.id).toBe("po_raw");
  });

  it.each([
    ["an empty body", Buffer.alloc(0), "missing message"],
    ["a body shorter than a frame header", Buffer.from([0, 0, 0]), "truncated message frame"],
    ["a frame longer than the body", envelope(0, request, request.length + 10), "truncated message frame"],
    ["two frames", Buffer.concat([envelope(0, request), envelope(0, request)]), "more than one message"],
    ["garbage in a frame", envelope(0, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f])), ""],
    ["garbage instead of a frame", Buffer.from("hello, world"), "compressed or unknown message frame"],
    ["the compressed flag without grpc-encoding", envelope(1, request), "compressed or unknown message frame"],
  ])("answers INVALID_ARGUMENT for %s", async (_name, body, message) => {
    const res = await rawCall(server.baseUrl, path, grpcHeaders, body);
    expect(res.headers[":status"]).toBe(200);
    expect(res.body.length).toBe(0);
    const status = grpcStatus(res);
    expect(status.status).toBe(Code.InvalidArgument);
    expect(status.message).toContain(message);
  });

  it("refuses a request message over 16 MiB with RESOURCE_EXHAUSTED, and keeps serving the connection", async () => {
    const transport = createGrpcUnaryTransport({ baseUrl: server.baseUrl, defaultTimeoutMs: 10_000 });
    const payouts = createClient(PayoutService, transport);
    const err = await rejection(payouts.createPayout(fullRequest("huge", "x".repeat(16 * 1024 * 1024 + 1))));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect((await payouts.createPayout(fullRequest("after-huge"))).payout?.id).toBe("po_after-huge");
  });

  it("answers INVALID_ARGUMENT for a malformed grpc-timeout", async () => {
    const res = await rawCall(server.baseUrl, path, { ...grpcHeaders, "grpc-timeout": "soon" }, envelope(0, request));
    expect(grpcStatus(res).status).toBe(Code.InvalidArgument);
  });

  it("leaves a gzip-compressed call to connect-node, which answers it", async () => {
    const res = await rawCall(
      server.baseUrl,
      path,
      { ...grpcHeaders, "grpc-encoding": "gzip", "grpc-accept-encoding": "identity" },
      envelope(1, gzipSync(request)),
    );
    expect(grpcStatus(res).status).toBe(0);
    const payload = res.body[0] === 1 ? gunzipSync(res.body.subarray(5)) : res.body.subarray(5);
    expect(fromBinary(CreatePayoutResponseSchema, payload).payout?.id).toBe("po_raw");
  });

  it("serves connect-node's gzip-sending client (through connect-node) alongside the fast path", async () => {
    const transport = createGrpcTransport({ baseUrl: server.baseUrl, sendCompression: compressionGzip });
    const res = await createClient(PayoutService, transport).createPayout(fullRequest("gz", "x".repeat(4_096)));
    expect(res.payout?.accountTitle).toBe("x".repeat(4_096));
  });
});

type GrpcJsUnary = (
  req: object,
  md: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: unknown) => void,
) => grpc.ClientUnaryCall;

describe("grpc-js client (proto-loader) → startRpcServer", () => {
  const slowCalls = new Map<string, SlowCall>();
  let server: { baseUrl: string; close(): Promise<void> };
  let client: grpc.Client;

  beforeAll(async () => {
    server = await startLeanServer(slowCalls, []);
    const pkg = grpc.loadPackageDefinition(
      protoLoader.loadSync("mypay/payouts/v1/payouts.proto", {
        includeDirs: [protoDir],
        keepCase: true,
        longs: String,
        enums: String,
        defaults: true,
      }),
    ) as unknown as { mypay: { payouts: { v1: { PayoutService: grpc.ServiceClientConstructor } } } };
    client = new pkg.mypay.payouts.v1.PayoutService(new URL(server.baseUrl).host, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client.close();
    await server.close();
  });

  /** Calls a method; resolves with the outcome, the response headers and the status trailers. */
  function call(
    method: string,
    req: object,
    md: grpc.Metadata,
    opts: grpc.CallOptions = {},
    onCall?: (c: grpc.ClientUnaryCall) => void,
  ) {
    return new Promise<{
      err: grpc.ServiceError | null;
      res: unknown;
      header?: grpc.Metadata;
      status?: grpc.StatusObject;
    }>((done) => {
      let header: grpc.Metadata | undefined;
      let status: grpc.StatusObject | undefined;
      let outcome: { err: grpc.ServiceError | null; res: unknown } | undefined;
      const finish = () => {
        if (outcome && status) done({ ...outcome, header, status });
      };
      const fn = (client as unknown as Record<string, GrpcJsUnary>)[method]!;
      const c = fn.call(client, req, md, { deadline: Date.now() + 5_000, ...opts }, (err, res) => {
        outcome = { err, res };
        finish();
      });
      c.on("metadata", (m: grpc.Metadata) => {
        header = m;
      });
      c.on("status", (s: grpc.StatusObject) => {
        status = s;
        finish();
      });
      onCall?.(c);
    });
  }

  it("round-trips a message with int64 extremes, request metadata, response headers and trailers", async () => {
    const md = new grpc.Metadata();
    md.set("x-test", "from-grpc-js");
    md.set("mypay-merchant-id", "mch_js");
    const { err, res, header, status } = await call(
      "CreatePayout",
      {
        idempotency_key: "js1",
        merchant_reference: "ref-ü",
        amount: { currency: "PKR", minor_units: MAX_INT64.toString() },
        dest_type: "DESTINATION_TYPE_BANK",
        bank_code: "HBL",
        account_number: "1234560001",
        account_title: "Ali Khan",
      },
      md,
    );
    expect(err).toBeNull();
    expect(res).toMatchObject({
      replayed: true,
      payout: {
        id: "po_js1",
        merchant_id: "mch_js",
        merchant_reference: "ref-ü",
        amount: { currency: "PKR", minor_units: MAX_INT64.toString() },
        status: "PAYOUT_STATUS_IN_REVIEW",
        dest_type: "DESTINATION_TYPE_BANK",
        attempts: 2_147_483_647,
        created_at: { seconds: "1700000000", nanos: 123_000_000 },
      },
    });
    expect(header?.get("x-echo-header")).toEqual(["from-grpc-js"]);
    expect(status?.metadata.get("x-echo-trailer")).toEqual(["from-grpc-js-trailer"]);
  });

  it("receives an appError with its code, message and decodable ErrorInfo", async () => {
    const { err } = await call("GetPayout", { id: "app-error" }, new grpc.Metadata());
    expect(err?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err?.details).toBe("available 5 is less than 10");
    const details = err?.metadata.get("grpc-status-details-bin")[0] as Buffer;
    const trailer = new Headers({
      "grpc-status": String(err?.code),
      "grpc-status-details-bin": details.toString("base64"),
    });
    expect(errorDetails(findTrailerError(trailer))).toMatchObject({
      code: Code.FailedPrecondition,
      decided: true,
      reason: Reason.INSUFFICIENT_FUNDS,
      metadata: { availableMinor: "5" },
    });
  });

  it("receives INTERNAL for a plain Error, UNIMPLEMENTED for a missing handler", async () => {
    const plain = await call("GetPayout", { id: "plain-error" }, new grpc.Metadata());
    expect(plain.err?.code).toBe(grpc.status.INTERNAL);
    expect(plain.err?.details).toBe("internal error");
    const missing = await call("ListPayouts", {}, new grpc.Metadata());
    expect(missing.err?.code).toBe(grpc.status.UNIMPLEMENTED);
  });

  it("gets DEADLINE_EXCEEDED past its deadline and CANCELLED on cancel; the handler's signal aborts both times", async () => {
    const timed = new grpc.Metadata();
    timed.set("x-call-id", "js-deadline");
    const started = Date.now();
    const late = await call("GetPayout", { id: "slow" }, timed, { deadline: Date.now() + 300 });
    expect(late.err?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(1_000);
    const deadlineCall = await seenSlowCall(slowCalls, "js-deadline");
    expect(deadlineCall.timeoutMs).toBeLessThanOrEqual(300);
    expect((await deadlineCall.aborted).afterMs).toBeLessThan(1_000);

    const cancelled = new grpc.Metadata();
    cancelled.set("x-call-id", "js-cancel");
    const outcome = call("GetPayout", { id: "slow" }, cancelled, {}, (c) => {
      void seenSlowCall(slowCalls, "js-cancel").then(() => c.cancel());
    });
    expect((await outcome).err?.code).toBe(grpc.status.CANCELLED);
    expect((await (await seenSlowCall(slowCalls, "js-cancel")).aborted).code).toBe(Code.Canceled);
  });
});

const kitUrl = (file: string) => pathToFileURL(resolve(import.meta.dirname, file)).href;
const protoUrl = (file: string) => pathToFileURL(resolve(protoDir, "gen", file)).href;

/** Starts an ES module script in a child Node process, collecting what it prints. */
function runScript(source: string, args: string[] = []): ChildProcess & { output: () => string } {
  const child = spawn(process.execPath, ["--no-warnings", "--input-type=module", "-e", source, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  return Object.assign(child, { output: () => output });
}

/** Resolves with the exit code once the child exits; rejects if it is still running after `limitMs`. */
function exited(child: ChildProcess, limitMs: number): Promise<number | null> {
  return new Promise((done, fail) => {
    // Its "exit" event may have fired before this was called.
    if (hasExited(child)) return done(child.exitCode);
    const timer = setTimeout(() => fail(new Error(`the child did not exit within ${limitMs} ms`)), limitMs);
    child.once("exit", (code) => {
      clearTimeout(timer);
      done(code);
    });
  });
}

/** A child process serving PayoutService with startRpcServer on `port`; getPayout("hang") never answers. */
async function startChildServer(port: number): Promise<ChildProcess & { output: () => string }> {
  const child = runScript(`
    import { startRpcServer } from ${JSON.stringify(kitUrl("rpc-server.ts"))};
    import { createLogger } from ${JSON.stringify(kitUrl("logger.ts"))};
    import { createMetrics } from ${JSON.stringify(kitUrl("metrics.ts"))};
    import { PayoutService } from ${JSON.stringify(protoUrl("mypay/payouts/v1/payouts_pb.ts"))};
    await startRpcServer({
      port: ${port}, host: "127.0.0.1", logger: createLogger("child", "silent"),
      registry: createMetrics("child").registry, ready: async () => true,
      routes: (router) => router.service(PayoutService, {
        getPayout: (req) => req.id === "hang" ? new Promise(() => {}) : { payout: { id: req.id } },
      }),
    });
    console.log("ready");
  `);
  for (let i = 0; i < 200 && !child.output().includes("ready"); i++) {
    if (hasExited(child)) break;
    await sleep(25);
  }
  if (!child.output().includes("ready")) {
    child.kill("SIGKILL");
    throw new Error(`child server did not start: ${child.output()}`);
  }
  return child;
}

describe("lean unary client against a server process", () => {
  const children: ChildProcess[] = [];

  afterAll(() => {
    for (const child of children) if (!hasExited(child)) child.kill("SIGKILL");
  });

  it("answers UNAVAILABLE when the server process dies mid-call, and reconnects after a restart on the same port", async () => {
    const port = await freePort();
    const first = await startChildServer(port);
    children.push(first);
    const payouts = createRpcClient(PayoutService, `http://127.0.0.1:${port}`, { timeoutMs: 10_000 });
    expect((await payouts.getPayout({ id: "before" })).payout?.id).toBe("before");

    const hanging = payouts.getPayout({ id: "hang" });
    await sleep(100);
    const killed = Date.now();
    first.kill("SIGKILL");
    const err = await rejection(hanging);
    expect(err.code).toBe(Code.Unavailable);
    expect(errorDetails(err).decided).toBe(false);
    expect(Date.now() - killed).toBeLessThan(1_000);
    await exited(first, 5_000);
    expect((await rejection(payouts.getPayout({ id: "down" }))).code).toBe(Code.Unavailable);

    const second = await startChildServer(port);
    children.push(second);
    expect((await payouts.getPayout({ id: "after" })).payout?.id).toBe("after");
    second.kill("SIGKILL");
  });

  it("does not keep an idle client's process alive", async () => {
    const server = await startLeanServer(new Map(), []);
    try {
      const child = runScript(
        `
        import { createRpcClient } from ${JSON.stringify(kitUrl("rpc-client.ts"))};
        import { PayoutService } from ${JSON.stringify(protoUrl("mypay/payouts/v1/payouts_pb.ts"))};
        const payouts = createRpcClient(PayoutService, process.argv[1], { timeoutMs: 5000 });
        console.log("answer", (await payouts.getPayout({ id: "from-child" })).payout.id);
      `,
        [server.baseUrl],
      );
      children.push(child);
      const code = await exited(child, 5_000);
      expect(child.output()).toContain("answer from-child");
      expect(code).toBe(0);
    } finally {
      await server.close();
    }
  });
});
