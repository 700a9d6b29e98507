import type { ServerResponse } from "node:http";
import type { NodeHandler } from "@mypay/kit";
import { badRequest, type HttpError, HttpErrorResponse } from "../http-errors.ts";

export type Req = Parameters<NodeHandler>[0];
export type Res = Parameters<NodeHandler>[1];

/** Everything a route handler gets: path parameters, query, parsed body and the caller. */
export interface RouteContext {
  req: Req;
  /** Path parameters; `id` on every route that has one (empty elsewhere). */
  params: { id: string; [name: string]: string };
  query: URLSearchParams;
  /** The merchant bound from a merchant key; empty on admin routes. */
  merchantId: string;
  /** The admin key's id on admin routes; empty on merchant routes. */
  adminKeyId: string;
  requestId: string;
  /** Remaining time the caller allows, capped by the gateway's own deadline. */
  timeoutMs: number;
  /** The JSON body (415/413/400 on a bad one). */
  body(): Promise<unknown>;
  /** The JSON body, or `{}` when the request has none. */
  optionalBody(): Promise<unknown>;
}

export interface RouteResult {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export function header(req: Req, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Whether the request carries a body at all. */
export function hasBody(req: Req): boolean {
  const length = header(req, "content-length");
  if (length !== undefined) return length !== "0";
  return header(req, "transfer-encoding") !== undefined || header(req, "content-type") !== undefined;
}

export function sendJson(res: Res, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  (res as ServerResponse).writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  (res as ServerResponse).end(text);
}

export function sendError(res: Res, error: HttpError, requestId: string, headers: Record<string, string> = {}): void {
  const { status, headers: own, ...rest } = error;
  sendJson(res, status, { error: { ...rest, requestId } }, { ...headers, ...own });
}

/** `fatal`: invalid UTF-8 is refused rather than replaced. Decoding whole buffers keeps no state between calls. */
const utf8 = new TextDecoder("utf-8", { fatal: true });
const JSON_TYPE = /^application\/json\s*(;|$)/i;

/**
 * Reads a JSON body up to `limit` bytes; 413 past the limit, 415 for another type, 400 for bad JSON.
 * With `emptyAs`, an empty body (even one sent with a Content-Type) reads as that value.
 */
export async function readJson(req: Req, limit: number, emptyAs?: unknown): Promise<unknown> {
  const type = header(req, "content-type") ?? "";
  if (!JSON_TYPE.test(type)) {
    throw new HttpErrorResponse(badRequest(415, "unsupported_media_type", "Content-Type must be application/json."));
  }
  const declared = Number(header(req, "content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  const body = await readBody(req, limit);
  if (body.length === 0 && emptyAs !== undefined) return emptyAs;
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw new HttpErrorResponse(badRequest(400, "invalid_json", "The body is not valid UTF-8."));
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const detail = err instanceof SyntaxError ? `: ${err.message}` : "";
    throw new HttpErrorResponse(badRequest(400, "invalid_json", `The body is not valid JSON${detail}.`));
  }
}

/**
 * The whole body, with plain stream events (an async iterator over the request costs several times more).
 * Past `limit` bytes the request is destroyed and the read fails with 413; a request that errors or
 * closes before its end fails with that error.
 */
function readBody(req: Req, limit: number): Promise<Buffer> {
  // A body already read (or refused) has no events left to wait for.
  if (req.readableEnded) return Promise.resolve(Buffer.alloc(0));
  if (req.destroyed) return Promise.reject(prematureClose());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = () => {
      req.off("data", onData);
      req.off("end", onEnd);
      req.off("error", onError);
      req.off("close", onClose);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        settle();
        req.destroy();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      settle();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      settle();
      reject(err);
    };
    const onClose = () => onError(prematureClose());
    req.on("data", onData);
    req.on("end", onEnd);
    req.on("error", onError);
    req.on("close", onClose);
  });
}

function prematureClose(): Error {
  return Object.assign(new Error("Premature close"), { code: "ERR_STREAM_PREMATURE_CLOSE" });
}

function tooLarge(limit: number): HttpErrorResponse {
  return new HttpErrorResponse(badRequest(413, "body_too_large", `The body exceeds ${limit} bytes.`));
}
