import type { ServerResponse } from "node:http";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as ServingStatus } from "@mypay/proto/grpc/health/v1/health";
import { BalanceSchema, LedgerService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { Gauge } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { notFound } from "./errors.ts";
import type { DualListener } from "./http-listener.ts";
import { createLogger } from "./logger.ts";
import { createMetrics, type ServiceMetrics } from "./metrics.ts";
import { startRpcServer } from "./rpc-server.ts";

const logger = createLogger("rpc-server-test", "silent");

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Reads the Prometheus text format into samples (label order does not matter). */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[key!] = value!;
    samples.push({ name: match[1]!, labels, value: Number(match[3]) });
  }
  return samples;
}

/** Sum of the samples of `name` whose labels include `labels` (0 when there are none). */
function sampleValue(samples: Sample[], name: string, labels: Record<string, string>): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

describe("startRpcServer", () => {
  let server: DualListener;
  let metrics: ServiceMetrics;
  let base: string;
  let readiness: boolean | "throws" = true;

  beforeAll(async () => {
    metrics = createMetrics("rpc-server-test");
    server = await startRpcServer({
      port: 0,
      host: "127.0.0.1",
      logger,
      registry: metrics.registry,
      interceptors: [metrics.serverInterceptor],
      // A stub ledger: one known merchant, NOT_FOUND for any other.
      routes: (router) =>
        router.service(LedgerService, {
          async getBalance(req) {
            if (req.merchantId !== "m_known") throw notFound(`merchant ${req.merchantId}`);
            return {
              balance: create(BalanceSchema, { merchantId: req.merchantId, currency: req.currency, balanceMinor: 5n }),
            };
          },
        }),
      ready: async () => {
        if (readiness === "throws") throw new Error("database down");
        return readiness;
      },
    });
    base = `http://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server.close();
  });

  const transports: Array<[string, () => Transport]> = [
    ["gRPC over h2c", () => createGrpcTransport({ baseUrl: base })],
    ["Connect over HTTP/1.1", () => createConnectTransport({ baseUrl: base, httpVersion: "1.1" })],
    ["Connect over h2c", () => createConnectTransport({ baseUrl: base, httpVersion: "2" })],
    ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl: base, httpVersion: "1.1" })],
  ];

  it("answers a binary request body that is not protobuf with INVALID_ARGUMENT in every protocol, not INTERNAL", async () => {
    const path = `${base}/${LedgerService.typeName}/GetBalance`;
    const garbage = Uint8Array.of(0xff, 0xff, 0xff, 0xff);
    const framed = (payload: Uint8Array) => Buffer.concat([Buffer.from([0, 0, 0, 0, payload.length]), payload]);

    const connect = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: garbage,
    });
    expect(connect.status).toBe(400);
    expect(await connect.json()).toMatchObject({
      code: "invalid_argument",
      message: expect.stringMatching(/^parse binary/),
    });

    const grpcWeb = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/grpc-web+proto" },
      body: framed(garbage),
    });
    expect(grpcWeb.status).toBe(200);
    const trailer = Buffer.from(await grpcWeb.arrayBuffer()).toString("latin1");
    expect(trailer).toMatch(/grpc-status: ?3\r\n/);
    expect(trailer).toMatch(/grpc-message: ?parse%20binary/);

    // The screened request still reaches the handler when it decodes (field 1: merchant id).
    const valid = Uint8Array.from([0x0a, 7, ...Buffer.from("m_known")]);
    const ok = await fetch(path, { method: "POST", headers: { "content-type": "application/proto" }, body: valid });
    expect(ok.status).toBe(200);
    const notFoundAnswer = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/proto" },
      body: Uint8Array.from([0x0a, 1, 0x78]),
    });
    expect(notFoundAnswer.status).toBe(404);
  });

  it("answers /healthz with 200 whatever readiness says", async () => {
    for (const state of [true, false, "throws"] as const) {
      readiness = state;
      const res = await fetch(`${base}/healthz`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/json");
      expect(await res.json()).toEqual({ status: "ok" });
    }
    readiness = true;
  });

  it("answers /readyz with 200 when ready, 503 when not ready or when the check throws", async () => {
    const probe = async () => {
      const res = await fetch(`${base}/readyz?verbose=1`);
      return { status: res.status, body: await res.json(), cache: res.headers.get("cache-control") };
    };
    readiness = true;
    expect(await probe()).toEqual({ status: 200, body: { status: "ready" }, cache: "no-store" });
    readiness = false;
    expect(await probe()).toEqual({ status: 503, body: { status: "not ready" }, cache: "no-store" });
    readiness = "throws";
    expect(await probe()).toEqual({ status: 503, body: { status: "not ready" }, cache: "no-store" });
    readiness = true;
    expect((await probe()).status).toBe(200);
  });

  it.each(transports)("answers grpc.health.v1 Check with the readiness state (%s)", async (_name, transport) => {
    const health = createClient(Health, transport());
    readiness = true;
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    readiness = false;
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
    readiness = "throws";
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.NOT_SERVING);
    readiness = true;
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
  });

  it("streams a change of readiness over grpc.health.v1 Watch", async () => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: base }));
    const abort = new AbortController();
    readiness = true;
    const seen: ServingStatus[] = [];
    try {
      for await (const res of health.watch({ service: "" }, { signal: abort.signal })) {
        seen.push(res.status);
        if (seen.length === 1) readiness = false;
        if (seen.length === 2) break;
      }
    } finally {
      abort.abort();
      readiness = true;
    }
    expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING]);
  });

  it.each(transports)("serves the service's own RPCs and their error codes (%s)", async (_name, transport) => {
    const ledger = createClient(LedgerService, transport());
    const res = await ledger.getBalance({ merchantId: "m_known", currency: "PKR" });
    expect(res.balance).toMatchObject({ merchantId: "m_known", currency: "PKR", balanceMinor: 5n });
    const err = await ledger.getBalance({ merchantId: "m_other", currency: "PKR" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
    const missing = await ledger.hold({ holdId: "h" }).catch((e: unknown) => e);
    expect((missing as ConnectError).code).toBe(Code.Unimplemented);
  });

  it("counts every handled RPC in /metrics by service, method and code", async () => {
    const ledger = createClient(LedgerService, createGrpcTransport({ baseUrl: base }));
    const scrape = async () => parseSamples(await (await fetch(`${base}/metrics`)).text());
    const handled = (samples: Sample[], method: string, code: string) =>
      sampleValue(samples, "grpc_server_handled_total", {
        service: "rpc-server-test",
        grpc_service: "mypay.ledger.v1.LedgerService",
        grpc_method: method,
        grpc_code: code,
      });
    const before = await scrape();
    await ledger.getBalance({ merchantId: "m_known", currency: "PKR" });
    await ledger.getBalance({ merchantId: "m_known", currency: "PKR" });
    await ledger.getBalance({ merchantId: "nobody", currency: "PKR" }).catch(() => undefined);
    const after = await scrape();
    expect(handled(after, "GetBalance", "OK")).toBe(handled(before, "GetBalance", "OK") + 2);
    expect(handled(after, "GetBalance", "NOT_FOUND")).toBe(handled(before, "GetBalance", "NOT_FOUND") + 1);
    const latency = {
      service: "rpc-server-test",
      grpc_service: "mypay.ledger.v1.LedgerService",
      grpc_method: "GetBalance",
    };
    expect(sampleValue(after, "grpc_server_handling_seconds_count", latency)).toBe(
      sampleValue(before, "grpc_server_handling_seconds_count", latency) + 3,
    );
    expect(
      sampleValue(after, "grpc_server_handled_total", { grpc_service: "grpc.health.v1.Health", grpc_method: "Check" }),
    ).toBeGreaterThan(0);

    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(metrics.registry.contentType);
    const text = await res.text();
    expect(text).toContain("# TYPE grpc_server_handled_total counter");
    expect(text).toContain("# TYPE grpc_server_handling_seconds histogram");
    expect(
      sampleValue(parseSamples(text), "process_cpu_seconds_total", { service: "rpc-server-test" }),
    ).toBeGreaterThan(0);
  });

  it.each([
    ["GET", "/nope"],
    ["GET", "/"],
    ["POST", "/api/v1/payouts"],
    ["POST", "/mypay.ledger.v1.LedgerService/NoSuchMethod"],
    ["POST", "/no.such.v1.Service/Call"],
  ])("answers %s %s with a 404 JSON error", async (method, path) => {
    const res = await fetch(`${base}${path}`, { method, ...(method === "POST" ? { body: "{}" } : {}) });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({ error: { code: "not_found", message: "no such route" } });
  });
});

describe("startRpcServer with a fallback and a failing registry", () => {
  it("sends non-RPC, non-probe requests to the fallback and answers 500 when metrics cannot be collected", async () => {
    const metrics = createMetrics("rpc-server-fallback-test");
    new Gauge({
      name: "broken_gauge",
      help: "A collector that fails.",
      registers: [metrics.registry],
      collect() {
        throw new Error("collector failed");
      },
    });
    const server = await startRpcServer({
      port: 0,
      host: "127.0.0.1",
      logger,
      registry: metrics.registry,
      routes: () => {},
      ready: async () => true,
      fallback: (req, res) => {
        (res as ServerResponse).writeHead(418, { "content-type": "text/plain" });
        res.end(`fallback ${req.method} ${req.url}`);
      },
    });
    const base = `http://127.0.0.1:${server.port}`;
    try {
      const other = await fetch(`${base}/api/v1/balance?currency=PKR`);
      expect(other.status).toBe(418);
      expect(await other.text()).toBe("fallback GET /api/v1/balance?currency=PKR");
      expect((await fetch(`${base}/healthz`)).status).toBe(200);
      expect((await fetch(`${base}/readyz`)).status).toBe(200);
      const broken = await fetch(`${base}/metrics`);
      expect(broken.status).toBe(500);
      expect(await broken.text()).toBe("metrics unavailable\n");
      const health = createClient(Health, createGrpcTransport({ baseUrl: base }));
      expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    } finally {
      await server.close();
    }
  });
});

describe("startRpcServer close", () => {
  it("ends open grpc.health.v1 Watch streams with NOT_SERVING instead of waiting for them forever", async () => {
    const metrics = createMetrics("rpc-server-close-test");
    const server = await startRpcServer({
      port: 0,
      host: "127.0.0.1",
      logger,
      registry: metrics.registry,
      routes: () => {},
      ready: async () => true,
    });
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${server.port}` }));
    const watches = [health.watch({ service: "" }), health.watch({ service: "" })].map(async (stream) => {
      const seen: ServingStatus[] = [];
      for await (const res of stream) seen.push(res.status);
      return seen;
    });
    // Both streams have sent their first status once a Check round trip on the same connection is done.
    await health.check({ service: "" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(await Promise.all(watches)).toEqual([
      [ServingStatus.SERVING, ServingStatus.NOT_SERVING],
      [ServingStatus.SERVING, ServingStatus.NOT_SERVING],
    ]);
  });
});
