import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { extname, join, relative, resolve, sep } from "node:path";
import { brotliCompressSync, gzipSync } from "node:zlib";
import type { NodeHandler } from "@mypay/kit";

/** Where `npm run build -w @mypay/console` writes the console. */
export const CONSOLE_DIST = resolve(import.meta.dirname, "..", "..", "..", "console", "dist");

const PREFIX = "/console";

/**
 * Only the gateway's own origin, no inline script or style, no framing. The console reaches the API
 * with fetch (`connect-src 'self'`) and nothing else.
 */
export const CONSOLE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join("; ");

const SECURITY_HEADERS = {
  "content-security-policy": CONSOLE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cross-origin-opener-policy": "same-origin",
  "cross-origin-resource-policy": "same-origin",
};

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".woff2": "font/woff2",
};

/** Text worth compressing; images and fonts already are. */
const COMPRESSIBLE = new Set([".html", ".js", ".css", ".svg", ".json", ".txt"]);

interface Asset {
  type: string;
  etag: string;
  cacheControl: string;
  body: Buffer;
  br?: Buffer;
  gzip?: Buffer;
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? files(path) : entry.isFile() ? [path] : [];
  });
}

/**
 * Reads a built console into memory, compressed once. Files under `assets/` carry a content hash in
 * their name (Vite), so they are cached for a year; everything else is revalidated on every load.
 */
export function loadConsoleAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const path of files(dir)) {
    const ext = extname(path);
    const type = TYPES[ext];
    if (!type) continue; // source maps and anything unexpected stay private
    const name = relative(dir, path).split(sep).join("/");
    const body = readFileSync(path);
    const asset: Asset = {
      type,
      etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"`,
      cacheControl: name.startsWith("assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      body,
    };
    if (COMPRESSIBLE.has(ext) && body.length > 512) {
      asset.br = brotliCompressSync(body);
      asset.gzip = gzipSync(body, { level: 9 });
    }
    assets.set(name, asset);
  }
  return assets;
}

/**
 * The asset a console path names: a file, or index.html for client routes (paths without an extension).
 * Only files loaded at start can be named, so no path reaches outside the build.
 */
function lookup(assets: Map<string, Asset>, path: string): Asset | undefined {
  let name: string;
  try {
    name = decodeURIComponent(path.slice(PREFIX.length + 1));
  } catch {
    return undefined;
  }
  const found = assets.get(name);
  if (found) return found;
  // A missing hashed asset must not be answered with HTML (the browser would run it as a script).
  if (name.startsWith("assets/") || extname(name) !== "") return undefined;
  return assets.get("index.html");
}

/**
 * Serves the console at `/console/` (with `/console` redirected there and client routes answered with
 * index.html) and passes every other request to `next`. Answers 503 while the console is not built
 * (the launcher builds it when missing), 404 for unknown files and 405 for methods other than GET/HEAD.
 * Every console answer carries a strict Content-Security-Policy.
 */
export function consoleAssets(next: NodeHandler, dir = CONSOLE_DIST): NodeHandler {
  let assets: Map<string, Asset> | undefined;
  return (req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (path !== PREFIX && !path.startsWith(`${PREFIX}/`)) return next(req, res);
    const send = (status: number, headers: Record<string, string>, body?: Buffer | string) => {
      res.writeHead(status, { ...SECURITY_HEADERS, ...headers });
      if (req.method === "HEAD" || body === undefined) res.end();
      else res.end(body);
    };
    const text = (status: number, message: string, extra: Record<string, string> = {}) =>
      send(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...extra }, message);
    if (req.method !== "GET" && req.method !== "HEAD") return text(405, "method not allowed\n", { allow: "GET, HEAD" });
    if (path === PREFIX) return send(308, { location: `${PREFIX}/`, "cache-control": "no-cache" });
    if (!assets && existsSync(join(dir, "index.html"))) assets = loadConsoleAssets(dir);
    if (!assets) return text(503, "The console is not built: npm run build -w @mypay/console\n");
    const asset = lookup(assets, path);
    if (!asset) return text(404, "not found\n");
    const headers: Record<string, string> = {
      "content-type": asset.type,
      "cache-control": asset.cacheControl,
      etag: asset.etag,
      vary: "accept-encoding",
    };
    if (req.headers["if-none-match"] === asset.etag) return send(304, headers);
    const accepted = String(req.headers["accept-encoding"] ?? "");
    if (asset.br && /\bbr\b/.test(accepted)) return send(200, { ...headers, "content-encoding": "br" }, asset.br);
    if (asset.gzip && /\bgzip\b/.test(accepted)) {
      return send(200, { ...headers, "content-encoding": "gzip" }, asset.gzip);
    }
    send(200, headers, asset.body);
  };
}
