import SwaggerParser from "@apidevtools/swagger-parser";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { dropTestDatabases, testStorage } from "@mypay/kit";
import { PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningMesh, startMesh } from "./mesh.ts";

const KEY = "mypay_test_sandbox_4f7c2a9e1b3d5f60";
const ADMIN_KEY = "mypay_admin_sandbox_7d2e9b4c1a6f3e80";
const storage = testStorage();
const engine = storage.DATABASE_URL ? "MariaDB/MySQL" : "embedded SQLite";
/** Small budgets, so a burst is refused quickly and refills within a second or two. */
const READ_BURST = 6;
const READ_PER_SEC = 1;

interface Operation {
  operationId: string;
  security: Record<string, unknown>[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { $ref?: string; content?: Record<string, { schema: unknown }> }>;
  "x-mypay-example"?: {
    method: string;
    path: string;
    status: number;
    body?: unknown;
    headers?: Record<string, string>;
  };
}
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

describe(`gateway contract on ${engine}`, () => {
  let mesh: RunningMesh;
  let doc: Document;

  beforeAll(async () => {
    mesh = await startMesh(storage, {
      BANK_DELAY_MS: "0",
      RATE_LIMIT_READ_BURST: String(READ_BURST),
      RATE_LIMIT_READ_PER_SEC: String(READ_PER_SEC),
    });
    const res = await fetch(`${mesh.gatewayUrl}/openapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as Document;
  }, 90_000);

  afterAll(async () => {
    const code = await mesh?.stop();
    if (code !== 0) console.error(mesh?.output.slice(-30).join("\n"));
    await dropTestDatabases(storage);
    expect(code).toBe(0);
  });

  describe("/openapi.json", () => {
    it("is a valid OpenAPI 3.1 document", async () => {
      expect(doc.openapi).toBe("3.1.0");
      // validate() dereferences in place: give it a copy.
      await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
    });

    it("documents every operation with a JSON success schema, the error schema and its security", () => {
      const operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({ path, method, op })),
      );
      expect(operations.length).toBeGreaterThanOrEqual(31);
      const ids = new Set<string>();
      for (const { path, method, op } of operations) {
        const where = `${method.toUpperCase()} ${path}`;
        expect(ids.has(op.operationId), where).toBe(false);
        ids.add(op.operationId);
        expect(op.security[0], where).toHaveProperty(path.startsWith("/api/v1/admin/") ? "AdminKey" : "ApiKey");
        const success = Object.entries(op.responses).find(([code]) => code.startsWith("2"));
        expect(success?.[1].content?.["application/json"]?.schema, where).toBeTruthy();
        for (const code of ["400", "401", "500"]) {
          expect(op.responses[code]?.$ref, `${where} ${code}`).toBe(`#/components/responses/E${code}`);
        }
        if (op.requestBody) {
          expect(op.responses["413"], where).toBeTruthy();
          expect(op.responses["415"], where).toBeTruthy();
        }
      }
    });

    it("answers every documented example request as documented", async () => {
      const examples = Object.values(doc.paths).flatMap((methods) =>
        Object.values(methods)
          .map((op) => ({ op, example: op["x-mypay-example"] }))
          .filter((e) => e.example),
      );
      expect(examples.length).toBeGreaterThanOrEqual(5);
      for (const { op, example } of examples) {
        const { method, path, status, body, headers } = example!;
        const admin = "AdminKey" in (op.security[0] ?? {});
        const res = await fetch(`${mesh.gatewayUrl}${path}`, {
          method,
          headers: {
            "x-api-key": admin ? ADMIN_KEY : KEY,
            ...(body ? { "content-type": "application/json" } : {}),
            ...headers,
          },
          body: body ? JSON.stringify(body) : undefined,
        });
        const answer = (await res.json()) as Record<string, unknown>;
        expect(res.status, `${method} ${path}: ${JSON.stringify(answer)}`).toBe(status);
        // Every required property of the documented success schema is present.
        const success = op.responses[String(status)]?.content?.["application/json"]?.schema as
          | { $ref: string }
          | undefined;
        expect(success, `${method} ${path}`).toBeDefined();
        const schemaRef = success?.$ref ?? "";
        const name = schemaRef.split("/").pop()!;
        const schema = (
          doc as unknown as { components: { schemas: Record<string, { required?: string[]; allOf?: unknown[] }> } }
        ).components.schemas[name]!;
        for (const field of schema.required ?? []) expect(answer, `${method} ${path}`).toHaveProperty(field);
      }
    });
  });

  describe("rate limits", () => {
    const balance = (key: string) => fetch(`${mesh.gatewayUrl}/api/v1/balance`, { headers: { "x-api-key": key } });

    it("refuses a burst with 429, Retry-After and RateLimit headers, per merchant, then recovers", async () => {
      const admin = { "x-api-key": ADMIN_KEY, "content-type": "application/json" };
      await fetch(`${mesh.gatewayUrl}/api/v1/admin/merchants`, {
        method: "POST",
        headers: admin,
        body: JSON.stringify({ id: "mch_bursty", name: "Bursty" }),
      });
      const made = await fetch(`${mesh.gatewayUrl}/api/v1/admin/merchants/mch_bursty/api-keys`, {
        method: "POST",
        headers: { "x-api-key": ADMIN_KEY },
      });
      const key = ((await made.json()) as { key: string }).key;

      const answers = await Promise.all(Array.from({ length: READ_BURST + 6 }, () => balance(key)));
      // Whatever the ledger answers for a merchant with no money yet, the edge let these through.
      const ok = answers.filter((r) => r.status !== 429);
      const limited = answers.filter((r) => r.status === 429);
      expect(ok.length).toBeGreaterThanOrEqual(READ_BURST - 1);
      // A slow machine may spread the burst over a second or two: allow that refill.
      expect(ok.length).toBeLessThanOrEqual(READ_BURST + 2);
      expect(limited.length).toBeGreaterThanOrEqual(4);
      const refused = limited[0]!;
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect(refused.headers.get("ratelimit-limit")).toBe(String(READ_BURST));
      expect(refused.headers.get("ratelimit-remaining")).toBe("0");
      expect(Number(refused.headers.get("ratelimit-reset"))).toBeGreaterThanOrEqual(1);
      const body = (await refused.json()) as { error: Record<string, string> };
      expect(body.error).toMatchObject({
        type: "rate_limit_error",
        code: "rate_limited",
        requestId: expect.any(String),
      });
      for (const r of answers) if (!r.bodyUsed) await r.body?.cancel();

      // Another merchant's budget is untouched; writes have their own bucket.
      expect((await balance(KEY)).status).toBe(200);
      const write = await fetch(`${mesh.gatewayUrl}/api/v1/webhook-endpoints`, {
        method: "POST",
        headers: { "x-api-key": key, "content-type": "application/json" },
        body: JSON.stringify({ url: "http://127.0.0.1:9/bursty" }),
      });
      expect(write.status).toBe(201);

      await new Promise((r) => setTimeout(r, (Number(refused.headers.get("retry-after")) + 0.2) * 1000));
      const recovered = await balance(key);
      expect(recovered.status).not.toBe(429);
      expect(Number(recovered.headers.get("ratelimit-remaining"))).toBeGreaterThanOrEqual(0);

      // RPCs spend the same budget: a burst of reads is refused RESOURCE_EXHAUSTED with the same headers.
      const client = createClient(
        PayoutService,
        createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "2" }),
      );
      const outcomes = await Promise.all(
        Array.from({ length: READ_BURST + 6 }, () =>
          client.listPayouts({}, { headers: { "x-api-key": key } }).then(
            () => undefined,
            (err: unknown) => err,
          ),
        ),
      );
      const rpcRefusal = outcomes.find((e) => e instanceof ConnectError && e.code === Code.ResourceExhausted);
      expect(rpcRefusal, String(outcomes)).toBeInstanceOf(ConnectError);
      expect((rpcRefusal as ConnectError).metadata.get("retry-after") ?? "").toMatch(/^\d+$/);
      expect((rpcRefusal as ConnectError).metadata.get("ratelimit-limit")).toBe(String(READ_BURST));

      const metrics = await (await fetch(`${mesh.gatewayUrl}/metrics`)).text();
      expect(metrics).toMatch(/^gateway_rate_limited_total\{bucket="read"[^}]*\} [1-9]/m);
    });
  });
});
