import { createServer, type Server } from "node:http";
import { createLogger } from "@mypay/kit";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Authenticator } from "../auth.ts";
import { createHttpMetrics } from "../http-metrics.ts";
import { RateLimiter } from "../rate-limit.ts";
import type { KeyStore } from "../store/key-store.ts";
import type { RouteContext } from "./http.ts";
import { restHandler } from "./rest-handler.ts";
import { compileRoute, type Route } from "./route.ts";

const KEY = "mypay_test_0123456789abcdef";
const ADMIN_KEY = "mypay_admin_0123456789abcdef";

/** Routing and the answer's headers, over a handful of routes that echo what they were given. */
describe("restHandler routing", () => {
  let server: Server;
  let base = "";

  beforeAll(async () => {
    const echo =
      (method: Route["method"], path: string, auth: Route["auth"] = "merchant", headers?: Record<string, string>) =>
      (): Route => ({
        method,
        path,
        auth,
        handle: async (ctx: RouteContext) => ({
          status: 200,
          body: { route: `${method} ${path}`, params: ctx.params, merchantId: ctx.merchantId, q: ctx.query.get("q") },
          headers,
        }),
      });
    const routes = [
      echo("GET", "/api/v1/things"),
      echo("POST", "/api/v1/things", "merchant", { "idempotent-replayed": "true" }),
      echo("GET", "/api/v1/things/{id}"),
      echo("DELETE", "/api/v1/things/{id}"),
      echo("POST", "/api/v1/things/{id}/poke"),
      echo("GET", "/api/v1/admin/things", "admin"),
    ].map((make) => compileRoute(make()));
    const keys = { findActive: async () => ({ id: "key_1", merchantId: "mch_1" }) } as unknown as KeyStore;
    const handler = restHandler({
      routes,
      auth: new Authenticator(keys, ADMIN_KEY, 1000),
      limiter: new RateLimiter({ read: { perSecond: 0, burst: 1 }, write: { perSecond: 0, burst: 1 } }),
      metrics: createHttpMetrics(new Registry()),
      logger: createLogger("gateway-test", "silent"),
      maxBodyBytes: 1024,
      timeoutMs: 1000,
      openApi: { openapi: "3.1.0" },
    });
    server = createServer(handler);
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(() => new Promise<void>((done) => server.close(() => done())));

  const call = async (method: string, path: string, key = KEY) => {
    const res = await fetch(`${base}${path}`, { method, headers: { "x-api-key": key, "x-request-id": "req-test" } });
    return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
  };

  it("matches paths with and without parameters, decoding parameters, for the caller's merchant", async () => {
    expect((await call("GET", "/api/v1/things?q=1")).body).toEqual({
      route: "GET /api/v1/things",
      params: { id: "" },
      merchantId: "mch_1",
      q: "1",
    });
    expect((await call("GET", "/api/v1/things/a%20b")).body).toMatchObject({
      route: "GET /api/v1/things/{id}",
      params: { id: "a b" },
    });
    expect((await call("POST", "/api/v1/things/t1/poke")).body).toMatchObject({ params: { id: "t1" } });
    expect((await call("GET", "/api/v1/admin/things", ADMIN_KEY)).body).toMatchObject({ merchantId: "" });
  });

  it("answers with the request id and the route's own headers", async () => {
    const posted = await call("POST", "/api/v1/things");
    expect(posted.headers.get("x-request-id")).toBe("req-test");
    expect(posted.headers.get("idempotent-replayed")).toBe("true");
    expect(posted.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(posted.headers.get("cache-control")).toBe("no-store");
    expect((await call("GET", "/api/v1/things")).headers.get("idempotent-replayed")).toBeNull();
  });

  it("answers 405 with every method the path allows, 404 for no route, 400 for a broken escape", async () => {
    const put = await call("PUT", "/api/v1/things");
    expect(put.status).toBe(405);
    expect(put.headers.get("allow")).toBe("GET, POST");
    expect(put.headers.get("x-request-id")).toBe("req-test");
    const poke = await call("GET", "/api/v1/things/t1/poke");
    expect([poke.status, poke.headers.get("allow")]).toEqual([405, "POST"]);
    expect((await call("PATCH", "/api/v1/things/t1")).headers.get("allow")).toBe("GET, DELETE");
    const missing = await call("GET", "/api/v1/thing");
    expect([missing.status, missing.body.error]).toMatchObject([404, { code: "route_not_found" }]);
    expect((await call("GET", "/api/v1/things/x/y")).status).toBe(404);
    expect((await call("GET", `/api/v1/things/${"i".repeat(65)}`)).status).toBe(404);
    expect((await call("GET", "/api/v1/things/%E0%A4%A")).status).toBe(400);
  });
});
