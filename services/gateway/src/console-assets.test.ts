import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliDecompressSync } from "node:zlib";
import type { NodeHandler } from "@mypay/kit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_CSP, consoleAssets } from "./console-assets.ts";

const dir = mkdtempSync(join(tmpdir(), "mypay-console-assets-"));
const missing = join(dir, "not-built");
const INDEX = `<!doctype html><html><head><script type="module" src="/console/assets/app-3f9a1c.js"></script></head><body>${"console ".repeat(100)}</body></html>`;
const SCRIPT = `console.log(${JSON.stringify("x".repeat(2000))});`;
let server: Server;
let port = 0;

/** A raw request with the path sent as written (fetch would decompress, and URL parsing would resolve `..`). */
function get(path: string, headers: Record<string, string> = {}, method = "GET") {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }>(
    (done, fail) => {
      const req = request({ host: "127.0.0.1", port, path, method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      });
      req.on("error", fail);
      req.end();
    },
  );
}

beforeAll(async () => {
  mkdirSync(join(dir, "dist", "assets"), { recursive: true });
  writeFileSync(join(dir, "dist", "index.html"), INDEX);
  writeFileSync(join(dir, "dist", "assets", "app-3f9a1c.js"), SCRIPT);
  writeFileSync(join(dir, "dist", "assets", "app-3f9a1c.js.map"), "{}");
  writeFileSync(join(dir, "dist", "favicon.svg"), "<svg/>");
  const rest: NodeHandler = (_, res) => {
    res.writeHead(200, { "x-next": "rest" });
    res.end("rest");
  };
  const built = consoleAssets(rest, join(dir, "dist"));
  const unbuilt = consoleAssets(rest, missing);
  server = createServer((req, res) => {
    if (req.url?.startsWith("/unbuilt")) {
      req.url = req.url.slice("/unbuilt".length);
      return unbuilt(req, res);
    }
    built(req, res);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((done) => server.close(done));
  rmSync(dir, { recursive: true, force: true });
});

describe("consoleAssets", () => {
  it("passes every request outside /console to the next handler", async () => {
    for (const path of ["/api/v1/balance", "/consoles", "/"]) {
      const res = await get(path);
      expect(res.headers["x-next"], path).toBe("rest");
    }
  });

  it("redirects /console to /console/ and answers index.html there, revalidated on every load", async () => {
    const redirect = await get("/console");
    expect(redirect.status).toBe(308);
    expect(redirect.headers.location).toBe("/console/");
    const index = await get("/console/");
    expect(index.status).toBe(200);
    expect(index.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(index.headers["cache-control"]).toBe("no-cache");
    expect(index.headers["content-security-policy"]).toBe(CONSOLE_CSP);
    expect(index.headers["x-content-type-options"]).toBe("nosniff");
    expect(index.body.toString()).toBe(INDEX);
  });

  it("has a CSP without inline script or style and without other origins", () => {
    expect(CONSOLE_CSP).toContain("default-src 'none'");
    expect(CONSOLE_CSP).toContain("script-src 'self'");
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CSP).not.toMatch(/unsafe-|\*|https?:/);
  });

  it("answers client routes with index.html, but never a missing asset", async () => {
    const route = await get("/console/payouts/po_123?status=SUCCESS");
    expect(route.status).toBe(200);
    expect(route.body.toString()).toBe(INDEX);
    for (const path of ["/console/assets/app-0000.js", "/console/logo.png", "/console/assets/app-3f9a1c.js.map"]) {
      const res = await get(path);
      expect(res.status, path).toBe(404);
      expect(res.headers["content-security-policy"]).toBe(CONSOLE_CSP);
    }
  });

  it("caches hashed assets for a year, compressed when the client accepts it", async () => {
    const plain = await get("/console/assets/app-3f9a1c.js");
    expect(plain.status).toBe(200);
    expect(plain.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(plain.headers["cache-control"]).toBe("public, max-age=31536000, immutable");
    expect(plain.headers["content-encoding"]).toBeUndefined();
    expect(plain.body.toString()).toBe(SCRIPT);
    const br = await get("/console/assets/app-3f9a1c.js", { "accept-encoding": "gzip, deflate, br" });
    expect(br.headers["content-encoding"]).toBe("br");
    expect(br.headers.vary).toBe("accept-encoding");
    expect(br.body.length).toBeLessThan(SCRIPT.length / 4);
    expect(brotliDecompressSync(br.body).toString()).toBe(SCRIPT);
    const gzip = await get("/console/assets/app-3f9a1c.js", { "accept-encoding": "gzip" });
    expect(gzip.headers["content-encoding"]).toBe("gzip");
  });

  it("answers 304 to a matching If-None-Match, and unhashed files are revalidated", async () => {
    const first = await get("/console/favicon.svg");
    expect(first.headers["cache-control"]).toBe("no-cache");
    const again = await get("/console/favicon.svg", { "if-none-match": String(first.headers.etag) });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
  });

  it("refuses other methods and path tricks", async () => {
    const post = await get("/console/", {}, "POST");
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe("GET, HEAD");
    expect((await get("/console/%2e%2e/%2e%2e/package.json")).status).toBe(404);
    expect((await get("/console/%E0%A4%A")).status).toBe(404);
    const head = await get("/console/", {}, "HEAD");
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
  });

  it("answers 503 with the build command while the console is not built", async () => {
    const res = await get("/unbuilt/console/");
    expect(res.status).toBe(503);
    expect(res.body.toString()).toContain("npm run build -w @mypay/console");
    expect((await get("/unbuilt/api/v1/balance")).body.toString()).toBe("rest");
  });
});
