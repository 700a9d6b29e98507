import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { connectNodeAdapter } from "@connectrpc/connect-node";
import { randomRequestId } from "./headers.ts";

/** Any request handler that serves both HTTP/1.1 and HTTP/2 requests (as connect-node's adapter does). */
export type NodeHandler = Parameters<typeof connectNodeAdapter>[0]["fallback"] & {};

const PREFACE_START = Buffer.from("PRI ");
/**
 * HTTP/2 flow-control windows: the 64 KiB defaults stall many concurrent RPCs on one connection (the
 * connection window is shared by every stream on it).
 */
const WINDOW_BYTES = 1024 * 1024;
const SESSION_WINDOW_BYTES = 16 * 1024 * 1024;

/**
 * What Node's HTTP/2 compatibility layer does for each stream when the server has a request listener,
 * done here so that a stream handler can take streams first: wrap the stream in request/response
 * objects and call the handler (answering `Expect: 100-continue` as Node does).
 */
function handOver(
  stream: http2.ServerHttp2Stream,
  headers: http2.IncomingHttpHeaders,
  rawHeaders: string[],
  handler: NodeHandler,
): void {
  const req = new http2.Http2ServerRequest(stream, headers, {}, rawHeaders);
  const res = new http2.Http2ServerResponse(stream);
  if (headers[":method"] === "CONNECT") {
    res.statusCode = 405;
    res.end();
    return;
  }
  if (headers.expect !== undefined) {
    if (headers.expect !== "100-continue") {
      res.statusCode = 417;
      res.end();
      return;
    }
    res.writeContinue();
  }
  (handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void)(req, res);
}

/**
 * Serves an HTTP/2 stream itself and returns true, or returns false to leave it to the request handler
 * (see grpc-unary-server.ts). It must not touch a stream it declines.
 */
export type Http2StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => boolean;

export interface DualListener {
  server: net.Server;
  /** The bound port (useful when 0 was asked for). */
  port: number;
  /** Stops accepting, closes idle connections, and resolves once in-flight requests have finished. */
  close(): Promise<void>;
}

/**
 * Answers a request Node's HTTP/1.1 parser refused (bytes not allowed in a header, headers too large,
 * a broken request line) with the same JSON error shape as every other answer, where Node would
 * write a bare status line that clients cannot parse as an error.
 */
function answerUnparsable(err: NodeJS.ErrnoException, socket: net.Socket): void {
  if (err.code === "ECONNRESET" || !socket.writable) return void socket.destroy();
  const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
  const requestId = randomRequestId();
  const body = JSON.stringify({
    error: {
      type: "invalid_request_error",
      code: status === 431 ? "headers_too_large" : status === 408 ? "request_timeout" : "malformed_request",
      message: status === 431 ? "The request headers are too large." : "The request is not valid HTTP/1.1.",
      requestId,
    },
  });
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-type: application/json\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * Serves HTTP/1.1 and cleartext HTTP/2 (h2c, prior knowledge) on one port: each new
 * connection is peeked until the first bytes tell whether they start the HTTP/2 preface,
 * then handed to the matching server. Peeking uses 'readable' + read() + unshift(), because
 * a 'data' listener would let Node's HTTP parser see bytes out of order.
 */
export async function listenHttp1And2(
  handler: NodeHandler,
  port: number,
  host: string,
  streamHandler?: Http2StreamHandler,
): Promise<DualListener> {
  const h1 = http.createServer({ keepAliveTimeout: 65_000 }, handler as http.RequestListener);
  const h2 = http2.createServer({ settings: { initialWindowSize: WINDOW_BYTES } });
  h2.on("stream", (stream, headers, _flags, rawHeaders) => {
    if (streamHandler?.(stream, headers)) return;
    handOver(stream, headers, rawHeaders as unknown as string[], handler);
  });
  const sessions = new Set<http2.Http2Session>();
  // HTTP/1.1 connections handed over by us are invisible to h1's own idle tracking (it never
  // listens), so count requests in flight per socket to close idle keep-alive sockets on shutdown.
  const inFlight = new Map<net.Socket, number>();
  const undecided = new Set<net.Socket>();
  let closing = false;
  h1.on("request", (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    inFlight.set(socket, (inFlight.get(socket) ?? 0) + 1);
    if (closing) res.shouldKeepAlive = false;
    res.once("close", () => {
      const left = (inFlight.get(socket) ?? 1) - 1;
      inFlight.set(socket, left);
      if (closing && left === 0) socket.destroySoon();
    });
  });
  h1.on("clientError", answerUnparsable);
  h2.on("session", (session) => {
    session.setLocalWindowSize(SESSION_WINDOW_BYTES);
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });

  // No Nagle delay: RPCs are small request/response pairs and latency matters more than packet count.
  const server = net.createServer({ noDelay: true, keepAlive: true }, (socket) => {
    if (closing) return void socket.destroy();
    undecided.add(socket);
    socket.on("close", () => {
      undecided.delete(socket);
      inFlight.delete(socket);
    });
    socket.on("error", () => socket.destroy());
    let seen = Buffer.alloc(0);
    const onReadable = () => {
      for (let chunk: Buffer | null = socket.read(); chunk !== null; chunk = socket.read()) {
        seen = Buffer.concat([seen, chunk]);
      }
      if (seen.length < 4) return; // "PRI " is enough to tell the HTTP/2 preface from any HTTP/1 method
      socket.off("readable", onReadable);
      undecided.delete(socket);
      socket.unshift(seen);
      const isH2 = seen.subarray(0, 4).equals(PREFACE_START);
      if (!isH2) inFlight.set(socket, 0);
      // Node ends an HTTP/2 session by half-closing its socket and waiting for the peer's FIN, which a client
      // keeping its connection never sends (connect-node's, after a plain HTTP answer such as a 404): close()
      // would wait for it forever. Once our side is flushed there is nothing left to wait for.
      else socket.once("finish", () => socket.destroy());
      (isH2 ? h2 : h1).emit("connection", socket);
    };
    socket.on("readable", onReadable);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as net.AddressInfo;

  return {
    server,
    port: address.port,
    async close() {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const session of sessions) session.close();
      for (const [socket, count] of inFlight) if (count === 0) socket.destroySoon();
      for (const socket of undecided) socket.destroy(); // no request bytes yet: nothing in flight
      await closed;
    },
  };
}
