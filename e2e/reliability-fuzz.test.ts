import { connect as connectHttp2 } from "node:http2";
import { dropTestDatabases, testStorage } from "@mypay/kit";
import { BalanceService } from "@mypay/proto/mypay/ledger/v1/ledger";
import { WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningMesh, startMesh } from "./mesh.ts";
import { type RawAnswer, rawRequest } from "./raw-http.ts";
import { fuzzRuns, fuzzSeed } from "./reliability-settings.ts";
import { recordFigures } from "./reliability-summary.ts";
import { ADMIN_KEY, SANDBOX_KEY } from "./rest-client.ts";

/**
 * Property-based fuzzing of the public edge: every REST route of the OpenAPI document, and every
 * public RPC over Connect (JSON and binary, HTTP/1.1) and gRPC (HTTP/2), with malformed, oversized,
 * wrong-typed and unicode-edge paths, headers and bodies, sent byte for byte. Only answers below
 * 500 are allowed, and every error must be JSON; the gateway must stay up with its memory bounded.
 * Seeded: a failure prints the seed, and RELIABILITY_FUZZ_SEED replays it. RELIABILITY_FUZZ_RUNS
 * sets the number of REST cases (each RPC protocol runs half as many, at most 2,000).
 */
const storage = testStorage();
const engine = storage.DATABASE_URL ? "MariaDB/MySQL" : "embedded SQLite";
const SEED = fuzzSeed;
const RUNS = fuzzRuns;
/**
 * RSS the gateway may gain over the second half of the REST cases. The first half warms up the
 * heap, allocator and JIT; a leak keeps growing after it, ordinary heap sizing does not (measured:
 * 159 → 289 MiB over the first 6,000 hostile requests, 286 MiB after 12,000).
 */
const RSS_GROWTH_LIMIT = 64 * 1024 * 1024;
/** RSS the gateway must stay under whatever the number of cases. */
const RSS_CEILING = 384 * 1024 * 1024;
/** Cases per RPC protocol: half the REST cases, at most 2,000 (gRPC cases are the slowest). */
const RPC_RUNS = Math.min(Math.ceil(fuzzRuns / 2), 2_000);

const EDGE_STRINGS = [
  "",
  " ",
  "\u0000",
  "\uD800",
  "\uDFFF",
  "\uFEFF",
  "\u200B",
  "\u202E",
  "e\u0301",
  "💸",
  "🏳️‍🌈",
  "\uFFFF",
  "𝟘",
  "Ａ",
  "İ",
  "%00",
  "%",
  "%E0%A4%A",
  "%2e%2e%2f",
  "../../etc/passwd",
  "' OR 1=1 --",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log-injection probe, meant literally
  "${jndi:ldap://127.0.0.1/a}",
  "<script>alert(1)</script>",
  "__proto__",
  "constructor",
  "-1",
  "1e309",
  "NaN",
  "0x10",
  "9".repeat(400),
];

const text = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...EDGE_STRINGS) },
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: fc.string({ unit: "binary", maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ minLength: 2_000, maxLength: 70_000, unit: "binary-ascii" }) },
);
const wrongTyped = fc.oneof(
  text,
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 4 }),
  fc.dictionary(text, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 }),
);
const validPayout = {
  merchantReference: "fuzz",
  amount: "1.00",
  currency: "PKR",
  destType: "BANK",
  bankCode: "HBL",
  accountNumber: "1234560004",
  accountTitle: "Fuzz",
};
/** A mostly valid payout or endpoint body with some fields broken, removed or added. */
const mutatedBody = fc
  .tuple(
    fc.constantFrom<Record<string, unknown>>(
      validPayout,
      { url: "http://127.0.0.1:9/h", description: "d" },
      {
        reason: "r",
        since: "2020-01-01T00:00:00Z",
        amount: "1.00",
        currency: "PKR",
      },
    ),
    fc.dictionary(
      fc.constantFrom(...Object.keys(validPayout), "url", "reason", "since", "enabled", "eventTypes", "x"),
      wrongTyped,
      {
        maxKeys: 3,
      },
    ),
    fc.array(fc.constantFrom(...Object.keys(validPayout), "url", "reason"), { maxLength: 2 }),
  )
  .map(([base, changes, removed]) => {
    const body: Record<string, unknown> = { ...base, ...changes };
    for (const k of removed) delete body[k];
    return Buffer.from(JSON.stringify(body));
  });
const body = fc.oneof(
  { weight: 3, arbitrary: mutatedBody },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => Buffer.from(JSON.stringify(v) ?? "null")) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 512 }).map((a) => Buffer.from(a)) },
  { weight: 1, arbitrary: text.map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 60_000, max: 300_000 }).map((n) => Buffer.from(`{"pad":"${"z".repeat(n)}"}`)),
  },
);
/** Percent-encodes every byte of `s` as UTF-8 (lone surrogates included) except unreserved characters. */
function percentEncode(s: string): string {
  return [...Buffer.from(s, "utf8")]
    .map((b) =>
      /[A-Za-z0-9._~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, "0")}`,
    )
    .join("");
}

/** Header values as a hostile client writes them: any bytes but the line breaks that would end them. */
const headerValue = text.map((s) => s.replace(/[\r\n]/g, ""));
const apiKey = fc.oneof(
  { weight: 6, arbitrary: fc.constant(SANDBOX_KEY) },
  { weight: 1, arbitrary: fc.constant(ADMIN_KEY) },
  { weight: 2, arbitrary: headerValue },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const contentType = fc.oneof(
  { weight: 5, arbitrary: fc.constant("application/json") },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "application/json; charset=latin1",
      "text/plain",
      "application/proto",
      "multipart/form-data; boundary=x",
    ),
  },
  { weight: 1, arbitrary: headerValue },
  { weight: 1, arbitrary: fc.constant(undefined) },
);
const extraHeaders = fc.array(
  fc.tuple(
    fc.oneof(
      fc.constantFrom(
        "x-idempotency-key",
        "idempotency-key",
        "x-request-id",
        "connect-timeout-ms",
        "accept",
        "x-api-key",
        "transfer-encoding",
      ),
      fc.stringMatching(/^[a-z][a-z0-9-]{0,30}$/),
    ),
    headerValue,
  ),
  { maxLength: 4 },
);

interface Tally {
  sent: number;
  byStatus: Map<number, number>;
}

function tally(t: Tally, status: number) {
  t.sent++;
  t.byStatus.set(status, (t.byStatus.get(status) ?? 0) + 1);
}

const fiveXxOf = (t: Tally) => [...t.byStatus].reduce((n, [s, c]) => n + (s >= 500 || s === 0 ? c : 0), 0);
const fourXxOf = (t: Tally) => [...t.byStatus].reduce((n, [s, c]) => n + (s >= 400 && s < 500 ? c : 0), 0);

/** A non-2xx answer must be a 4xx with a JSON error body. */
function expectJsonClientError(answer: RawAnswer, what: string) {
  const where = `${what} → ${answer.status} ${answer.body.slice(0, 200)}`;
  expect(answer.status, where).toBeGreaterThanOrEqual(200);
  expect(answer.status, where).toBeLessThan(500);
  if (answer.status < 400) return;
  expect(answer.headers["content-type"] ?? "", where).toMatch(/^application\/json/);
  expect(() => JSON.parse(answer.body), where).not.toThrow();
}

describe(`reliability: hostile input at the edge on ${engine} (seed ${SEED})`, () => {
  let mesh: RunningMesh;
  let port = 0;
  let routes: [method: string, pattern: string][] = [];
  const rest: Tally = { sent: 0, byStatus: new Map() };
  const rpc: Tally = { sent: 0, byStatus: new Map() };

  const gatewayRss = async () => {
    const metrics = await (await fetch(`${mesh.gatewayUrl}/metrics`)).text();
    return Number(/^process_resident_memory_bytes(?:\{[^}]*\})? (\S+)$/m.exec(metrics)?.[1]);
  };

  beforeAll(async () => {
    mesh = await startMesh(storage, {
      BANK_DELAY_MS: "0",
      RATE_LIMIT_READ_BURST: "1000000",
      RATE_LIMIT_WRITE_BURST: "1000000",
    });
    port = Number(new URL(mesh.gatewayUrl).port);
    const spec = (await (await fetch(`${mesh.gatewayUrl}/openapi.json`)).json()) as { paths: Record<string, object> };
    routes = Object.entries(spec.paths).flatMap(([pattern, ops]) =>
      Object.keys(ops).map((m) => [m.toUpperCase(), pattern] as [string, string]),
    );
    expect(routes.length).toBeGreaterThanOrEqual(31);
  }, 90_000);

  afterAll(async () => {
    console.log(
      `[reliability] fuzz seed ${SEED}: REST ${rest.sent} requests ${JSON.stringify(Object.fromEntries(rest.byStatus))}; ` +
        `RPC ${rpc.sent} calls ${JSON.stringify(Object.fromEntries(rpc.byStatus))}`,
    );
    const code = await mesh?.stop();
    if (code !== 0) console.error(mesh?.output.slice(-30).join("\n"));
    await dropTestDatabases(storage);
  });

  it("answers every hostile REST request below 500, errors as JSON, and stays up with memory bounded", async () => {
    const segment = fc.oneof(
      { weight: 3, arbitrary: text.map(percentEncode) },
      { weight: 1, arbitrary: text.map((s) => s.replace(/[\s?#]/g, "")) },
      { weight: 1, arbitrary: fc.constantFrom("%E0%A4%A", "%ZZ", "..", "%2F", "a/b") },
    );
    const query = fc.array(
      fc.tuple(
        fc.constantFrom("limit", "startingAfter", "status", "currency", "endpointId", "payoutId", "merchantId", "x"),
        text,
      ),
      {
        maxLength: 3,
      },
    );
    const property = fc.asyncProperty(
      fc.constantFrom(...routes),
      segment,
      query,
      apiKey,
      contentType,
      extraHeaders,
      body,
      async ([method, pattern], id, params, key, type, extra, payload) => {
        const qs = params.map(([k, v]) => `${k}=${percentEncode(v)}`).join("&");
        const path = `${pattern.replace("{id}", id)}${qs ? `?${qs}` : ""}`;
        const headers: [string, string][] = [...extra];
        if (key !== undefined) headers.push(["x-api-key", key]);
        if (type !== undefined) headers.push(["content-type", type]);
        const answer = await rawRequest(port, method, path, headers, method === "GET" ? Buffer.alloc(0) : payload);
        tally(rest, answer.status);
        expectJsonClientError(answer, `${method} ${path.slice(0, 120)}`);
      },
    );
    const rssAtStart = await gatewayRss();
    await fc.assert(property, { seed: SEED, numRuns: Math.ceil(RUNS / 2) });
    const rssWarm = await gatewayRss();
    await fc.assert(property, { seed: SEED + 1, numRuns: Math.floor(RUNS / 2) });
    const rssAfter = await gatewayRss();
    const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
    console.log(`[reliability] gateway RSS ${mib(rssAtStart)} → ${mib(rssWarm)} (warm) → ${mib(rssAfter)} MiB`);
    expect(rssAfter - rssWarm).toBeLessThan(RSS_GROWTH_LIMIT);
    expect(Math.max(rssWarm, rssAfter)).toBeLessThan(RSS_CEILING);
    expect((await fetch(`${mesh.gatewayUrl}/healthz`)).status).toBe(200);
    const balance = await fetch(`${mesh.gatewayUrl}/api/v1/balance`, { headers: { "x-api-key": SANDBOX_KEY } });
    expect(balance.status).toBe(200);
    expect(fiveXxOf(rest)).toBe(0);
    recordFigures("fuzz: REST routes", { faults: rest.sent, fiveXx: fiveXxOf(rest) });
    console.log(`[reliability] REST fuzz: ${fourXxOf(rest)} × 4xx, ${fiveXxOf(rest)} × 5xx of ${rest.sent}`);
  }, 240_000);

  const methods = [PayoutService, BalanceService, WebhookEndpointService].flatMap((s) =>
    s.methods.map((m) => `/${s.typeName}/${m.name}`),
  );

  it("answers hostile Connect calls (JSON and binary) below 500, errors as JSON", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...methods),
        fc.constantFrom("application/json", "application/proto", "application/connect+json", "text/xml"),
        apiKey,
        extraHeaders,
        body,
        async (path, type, key, extra, payload) => {
          const headers: [string, string][] = [["content-type", type], ["connect-protocol-version", "1"], ...extra];
          if (key !== undefined) headers.push(["x-api-key", key]);
          const answer = await rawRequest(port, "POST", path, headers, payload);
          tally(rpc, answer.status);
          // The Connect protocol answers a content type it does not speak (for a unary method) with a bare 415.
          if (answer.status === 415 && (type === "text/xml" || type === "application/connect+json")) return;
          expectJsonClientError(answer, `Connect ${type} ${path}`);
        },
      ),
      { seed: SEED, numRuns: RPC_RUNS },
    );
    expect(fiveXxOf(rpc)).toBe(0);
  }, 240_000);

  it("answers hostile gRPC calls over HTTP/2 with client-error codes only, never INTERNAL or UNKNOWN", async () => {
    // A malformed HTTP/2 frame ends the whole session (GOAWAY), so each case gets a live one.
    let session = connectHttp2(mesh.gatewayUrl).on("error", () => undefined);
    const live = () => {
      if (session.closed || session.destroyed) session = connectHttp2(mesh.gatewayUrl).on("error", () => undefined);
      return session;
    };
    const grpcStatuses = new Map<string, number>();
    // UNKNOWN, INTERNAL, UNAVAILABLE and DATA_LOSS would mean the gateway broke, not the caller.
    const serverFaults = new Set(["2", "13", "14", "15"]);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...methods),
          // HTTP/2 itself refuses field values with control bytes (a connection error, not an answer).
          apiKey.map((k) => k?.replace(/[^\x20-\x7e]/g, "")),
          fc.oneof(
            // A well-framed message of random bytes, a frame promising more than it has, or no frame.
            fc.uint8Array({ maxLength: 256 }).map((a) => {
              const frame = Buffer.alloc(5 + a.length);
              frame.writeUInt32BE(a.length, 1);
              Buffer.from(a).copy(frame, 5);
              return frame;
            }),
            fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.concat([Buffer.from([0, 0, 1, 0, 0]), Buffer.from(a)])),
            fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
          ),
          async (path, key, payload) => {
            const status = await new Promise<string>((done, fail) => {
              const headers: Record<string, string> = {
                ":method": "POST",
                ":path": path,
                "content-type": "application/grpc",
                te: "trailers",
              };
              if (key !== undefined) headers["x-api-key"] = key;
              const stream = live().request(headers);
              let grpcStatus = "";
              const read = (h: Record<string, unknown>) => {
                if (h["grpc-status"] === undefined) return;
                grpcStatus = String(h["grpc-status"]);
              };
              stream.on("response", (h) => {
                read(h);
                if (h[":status"] !== 200) grpcStatus = `http ${h[":status"]}`;
              });
              stream.on("trailers", read);
              stream.on("data", () => undefined);
              stream.on("close", () => done(grpcStatus || "none"));
              stream.on("error", fail);
              stream.setTimeout(15_000, () => fail(new Error(`no gRPC answer for ${path}`)));
              stream.end(payload);
            });
            grpcStatuses.set(status, (grpcStatuses.get(status) ?? 0) + 1);
            tally(rpc, serverFaults.has(status) || status === "none" || status.startsWith("http 5") ? 500 : 400);
            expect(serverFaults.has(status), `gRPC ${path} → status ${status}`).toBe(false);
            expect(status, `gRPC ${path}`).not.toBe("none");
          },
        ),
        { seed: SEED, numRuns: RPC_RUNS },
      );
    } finally {
      session.close();
    }
    console.log(`[reliability] gRPC fuzz statuses ${JSON.stringify(Object.fromEntries(grpcStatuses))}`);
    expect(fiveXxOf(rpc)).toBe(0);
    recordFigures("fuzz: Connect and gRPC", { faults: rpc.sent, fiveXx: fiveXxOf(rpc) });
  }, 240_000);
});
