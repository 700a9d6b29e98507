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

/**
 * Reads a JSON body up to `limit` bytes; 413 past the limit, 415 for another type, 400 for bad JSON.
 * With `emptyAs`, an empty body (even one sent with a Content-Type) reads as that value.
 */
export async function readJson(req: Req, limit: number, emptyAs?: unknown): Promise<unknown> {
  const type = header(req, "content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new HttpErrorResponse(badRequest(415, "unsupported_media_type", "Content-Type must be application/json."));
  }
  const declared = Number(header(req, "content-length") ?? "0");
  if (declared > limit) throw tooLarge(limit);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  if (size === 0 && emptyAs !== undefined) return emptyAs;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
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

function tooLarge(limit: number): HttpErrorResponse {
  return new HttpErrorResponse(badRequest(413, "body_too_large", `The body exceeds ${limit} bytes.`));
}
