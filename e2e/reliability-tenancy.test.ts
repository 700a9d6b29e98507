import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { dropTestDatabases, testStorage } from "@mypay/kit";
import { WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { PayoutService } from "@mypay/proto/mypay/payouts/v1/payouts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type RunningMesh, startMesh } from "./mesh.ts";
import { recordFigures } from "./reliability-summary.ts";
import { ADMIN_KEY, createMerchant, payoutBody, RestClient, SANDBOX_KEY } from "./rest-client.ts";

/**
 * The tenancy matrix, derived from the OpenAPI document so a new route is covered the day it is
 * added: merchant B's key against every route that takes an id, with merchant A's ids, over REST and
 * over Connect → not found; every admin route with merchant, revoked, unknown or no keys → 401/403;
 * a revoked key fails at once on every protocol. Never a 5xx.
 */
const storage = testStorage();
const engine = storage.DATABASE_URL ? "MariaDB/MySQL" : "embedded SQLite";

interface Operation {
  method: string;
  pattern: string;
  admin: boolean;
  /** Names of the documented query parameters. */
  query: string[];
}

describe(`reliability: tenancy matrix on ${engine}`, () => {
  let mesh: RunningMesh;
  let operations: Operation[] = [];
  const a = { payoutId: "", endpointId: "", messageId: "" };
  let keyB = "";

  const rpcAs = (key: string) => {
    const withKey: Interceptor = (next) => (req) => {
      req.header.set("x-api-key", key);
      return next(req);
    };
    const transport = createConnectTransport({ baseUrl: mesh.gatewayUrl, httpVersion: "1.1", interceptors: [withKey] });
    return {
      payouts: createClient(PayoutService, transport),
      endpoints: createClient(WebhookEndpointService, transport),
    };
  };
  const codeOf = (call: Promise<unknown>) =>
    call.then(
      () => Code[0] ?? "ok",
      (err) => Code[ConnectError.from(err).code],
    );

  beforeAll(async () => {
    mesh = await startMesh(storage, {
      BANK_DELAY_MS: "0",
      RATE_LIMIT_READ_BURST: "100000",
      RATE_LIMIT_WRITE_BURST: "100000",
      NOTIFIER_RETRY_SCHEDULE: "0s",
    });
    keyB = await createMerchant(mesh.gatewayUrl, "mch_tenant_b", "100.00");
    const asA = new RestClient(mesh.gatewayUrl);
    const endpoint = await asA.send("POST", "/api/v1/webhook-endpoints", { body: { url: "http://127.0.0.1:9/a" } });
    a.endpointId = endpoint.body.id as string;
    // 0004: the bank never answers, so A's payout stays cancellable throughout.
    a.payoutId = (await asA.createUntilAnswered("tenant-a", payoutBody("tenant-a", "0004"))).body.id as string;
    a.messageId = await eventually(async () => {
      const page = await asA.send("GET", `/api/v1/webhook-messages?endpointId=${a.endpointId}&limit=1`);
      return (page.body.data as { id: string }[])[0]?.id;
    });
    const spec = (await (await fetch(`${mesh.gatewayUrl}/openapi.json`)).json()) as {
      paths: Record<
        string,
        Record<string, { security: Record<string, unknown>[]; parameters: { name?: string; in?: string }[] }>
      >;
    };
    operations = Object.entries(spec.paths).flatMap(([pattern, ops]) =>
      Object.entries(ops).map(([method, op]) => ({
        method: method.toUpperCase(),
        pattern,
        admin: op.security.some((s) => "AdminKey" in s),
        query: op.parameters.filter((p) => p.in === "query").map((p) => p.name ?? ""),
      })),
    );
  }, 90_000);

  afterAll(async () => {
    await mesh?.stop();
    await dropTestDatabases(storage);
  });

  /** A's id for a route's `{id}`, by the resource the route is under. */
  const idOfA = (pattern: string) =>
    pattern.startsWith("/api/v1/webhook-endpoints/")
      ? a.endpointId
      : pattern.startsWith("/api/v1/webhook-messages/")
        ? a.messageId
        : a.payoutId;

  it("merchant B reaches none of A's objects on any route, over REST and Connect", async () => {
    const asB = new RestClient(mesh.gatewayUrl, keyB);
    const merchantRoutes = operations.filter((o) => !o.admin && o.pattern.includes("{id}"));
    expect(merchantRoutes.length).toBeGreaterThanOrEqual(9);
    /** The error without its request id, with the id asked for replaced, to compare two answers. */
    const shape = (body: Record<string, unknown>, id: string) => {
      const { requestId: _, ...error } = body.error as Record<string, unknown>;
      return JSON.stringify(error).replaceAll(id, "<id>");
    };
    for (const { method, pattern } of merchantRoutes) {
      // A valid request in every other respect, so only the owner check can refuse it.
      const body =
        method === "GET" || method === "DELETE" ? {} : { body: method === "PATCH" ? { description: "mine now" } : {} };
      const theirs = idOfA(pattern);
      const res = await asB.send(method, pattern.replace("{id}", theirs), body);
      expect(res.status, `${method} ${pattern} as B: ${JSON.stringify(res.body)}`).toBe(404);
      // Indistinguishable from an id that never existed: nothing says the object is someone else's.
      const never = `${theirs.slice(0, 3)}never_existed_0000000`;
      const missing = await asB.send(method, pattern.replace("{id}", never), body);
      expect(shape(res.body, theirs), `${method} ${pattern}`).toBe(shape(missing.body, never));
    }
    const rpc = rpcAs(keyB);
    // Started one at a time (a rejected call nobody awaits yet would be an unhandled rejection).
    const calls: [string, () => Promise<unknown>][] = [
      ["GetPayout", () => rpc.payouts.getPayout({ id: a.payoutId })],
      ["CancelPayout", () => rpc.payouts.cancelPayout({ id: a.payoutId, reason: "not mine" })],
      ["GetPayoutHistory", () => rpc.payouts.getPayoutHistory({ id: a.payoutId })],
      ["GetEndpoint", () => rpc.endpoints.getEndpoint({ id: a.endpointId })],
      [
        "UpdateEndpoint",
        () => rpc.endpoints.updateEndpoint({ id: a.endpointId, updateMask: ["description"], description: "x" }),
      ],
      ["RotateSecret", () => rpc.endpoints.rotateSecret({ id: a.endpointId })],
      ["DeleteEndpoint", () => rpc.endpoints.deleteEndpoint({ id: a.endpointId })],
      ["ListAttempts", () => rpc.endpoints.listAttempts({ messageId: a.messageId })],
      ["ReplayMessage", () => rpc.endpoints.replayMessage({ messageId: a.messageId })],
    ];
    for (const [name, call] of calls) expect(await codeOf(call()), name).toBe(Code[Code.NotFound]);
    const listed = await rpc.payouts.listPayouts({});
    expect(listed.payouts.map((p) => p.id)).not.toContain(a.payoutId);
    // A's objects are untouched.
    const asA = new RestClient(mesh.gatewayUrl);
    expect((await asA.send("GET", `/api/v1/payouts/${a.payoutId}`)).body.status).toBe("PENDING");
    expect((await asA.send("GET", `/api/v1/webhook-endpoints/${a.endpointId}`)).status).toBe(200);
    expect(asB.fiveXx + asA.fiveXx).toBe(0);
    recordFigures("tenancy: B against A's ids", { faults: merchantRoutes.length + calls.length, fiveXx: asB.fiveXx });
  });

  it("merchant B filtering a list by A's ids gets nothing of A's, over REST and Connect", async () => {
    const asA = new RestClient(mesh.gatewayUrl);
    const asB = new RestClient(mesh.gatewayUrl, keyB);
    /** A's id for a query parameter that names an object. */
    const idsOfA: Record<string, string> = { payoutId: a.payoutId, endpointId: a.endpointId };
    const filters = operations
      .filter((o) => !o.admin && o.method === "GET" && !o.pattern.includes("{id}"))
      .flatMap((o) => o.query.filter((name) => name in idsOfA).map((name) => ({ ...o, name })));
    expect(filters.length).toBeGreaterThanOrEqual(2);
    for (const { pattern, name } of filters) {
      const path = `${pattern}?${name}=${idsOfA[name]}`;
      // A's own answer lists something, so B's empty answer below is the tenancy check, not a broken filter.
      expect(((await asA.send("GET", path)).body.data as unknown[]).length, `${path} as A`).toBeGreaterThan(0);
      const res = await asB.send("GET", path);
      // An empty list, or the 404 of a filter that names a missing object (as for B's own missing ids).
      expect([200, 404], `${path} as B: ${JSON.stringify(res.body)}`).toContain(res.status);
      if (res.status === 200) expect(res.body.data, `${path} as B`).toEqual([]);
      expect(JSON.stringify(res.body)).not.toContain(idsOfA[name]);
    }
    const rpc = rpcAs(keyB);
    expect((await rpc.endpoints.listMessages({ subjectId: a.payoutId })).messages).toEqual([]);
    expect(await codeOf(rpc.endpoints.listMessages({ endpointId: a.endpointId }))).toBe(Code[Code.NotFound]);
    expect(asA.fiveXx + asB.fiveXx).toBe(0);
    recordFigures("tenancy: B filtering by A's ids", { faults: filters.length + 2, fiveXx: asB.fiveXx });
  });

  it("every admin route refuses merchant, revoked, unknown and missing keys", async () => {
    const made = await new RestClient(mesh.gatewayUrl, ADMIN_KEY).send(
      "POST",
      "/api/v1/admin/merchants/mch_tenant_b/api-keys",
    );
    await new RestClient(mesh.gatewayUrl, ADMIN_KEY).send("POST", `/api/v1/admin/api-keys/${made.body.id}/revoke`);
    const adminRoutes = operations.filter((o) => o.admin);
    expect(adminRoutes.length).toBeGreaterThanOrEqual(10);
    const keys: [string, string | null][] = [
      ["merchant A", SANDBOX_KEY],
      ["merchant B", keyB],
      ["revoked", made.body.key as string],
      ["unknown admin-looking", "mypay_admin_0000000000000000deadbeef"],
      ["none", null],
    ];
    const client = new RestClient(mesh.gatewayUrl);
    for (const { method, pattern } of adminRoutes) {
      for (const [who, key] of keys) {
        const res = await client.send(method, pattern.replace("{id}", a.payoutId), {
          key,
          ...(method === "GET" ? {} : { body: {} }),
        });
        expect([401, 403], `${method} ${pattern} with ${who}: ${res.status}`).toContain(res.status);
      }
    }
    expect(client.fiveXx).toBe(0);
    recordFigures("tenancy: admin routes × bad keys", {
      faults: adminRoutes.length * keys.length,
      fiveXx: client.fiveXx,
    });
  });

  it("a revoked key fails at once over REST and Connect", async () => {
    const admin = new RestClient(mesh.gatewayUrl, ADMIN_KEY);
    const made = await admin.send("POST", "/api/v1/admin/merchants/mch_tenant_b/api-keys");
    const key = made.body.key as string;
    const rest = new RestClient(mesh.gatewayUrl, key);
    expect((await rest.send("GET", "/api/v1/balance")).status).toBe(200);
    expect(await codeOf(rpcAs(key).payouts.listPayouts({}))).toBe(Code[0] ?? "ok");
    expect((await admin.send("POST", `/api/v1/admin/api-keys/${made.body.id}/revoke`)).status).toBe(200);
    expect((await rest.send("GET", "/api/v1/balance")).status).toBe(401);
    expect(await codeOf(rpcAs(key).payouts.listPayouts({}))).toBe(Code[Code.Unauthenticated]);
    recordFigures("tenancy: revoked key", { faults: 2, fiveXx: rest.fiveXx });
  });
});
