import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DualListener, listenHttp1And2, type NodeHandler } from "./http-listener.ts";

/** Echoes what the server saw, so each test can tell which protocol served it. */
const echo: NodeHandler = (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = JSON.stringify({
      httpVersion: req.httpVersion,
      method: req.method,
      url: req.url,
      body: Buffer.concat(chunks).toString(),
    });
    (res as http.ServerResponse).writeHead(200, { "content-type": "application/json" });
    res.end(body);
  });
};

interface Echo {
  httpVersion: string;
  method: string;
  url: string;
  body: string;
}

/** One HTTP/2 request over a session; resolves with status and parsed body. */
function h2Request(
  session: http2.ClientHttp2Session,
  path: string,
  body?: string,
): Promise<{ status: number; body: Echo }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": body === undefined ? "GET" : "POST", ":path": path });
    let status = 0;
    const chunks: Buffer[] = [];
    stream.on("response", (headers) => {
      status = Number(headers[":status"]);
    });
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => resolve({ status, body: JSON.parse(Buffer.concat(chunks).toString()) }));
    stream.on("error", reject);
    stream.end(body);
  });
}

/** Opens an h2c session (prior knowledge) and waits until it is connected. */
async function h2Connect(port: number, options: http2.ClientSessionOptions = {}): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`, options);
  await new Promise<void>((resolve, reject) => {
    session.once("connect", () => resolve());
    session.once("error", reject);
  });
  return session;
}

/** Sends raw bytes over TCP in the given pieces, pausing between them, and returns everything read until close. */
async function rawExchange(port: number, pieces: string[], pauseMs: number): Promise<string> {
  const socket = net.connect(port, "127.0.0.1");
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  const received: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => received.push(chunk));
  const closed = new Promise<void>((resolve, reject) => {
    socket.once("close", () => resolve());
    socket.once("error", reject);
  });
  for (const [i, piece] of pieces.entries()) {
    if (i > 0) await sleep(pauseMs);
    socket.write(piece);
  }
  await closed;
  return Buffer.concat(received).toString();
}

/**
 * A TCP connection wrapped so the client's first write reaches the server in two parts, with a
 * pause after the first `firstBytes` bytes: a slow client as the connection sniffer sees it.
 */
function slowStartConnection(port: number, firstBytes: number, pauseMs: number): Duplex {
  const socket = net.connect(port, "127.0.0.1");
  let first = true;
  const duplex = new Duplex({
    write(chunk: Buffer, _encoding, callback) {
      if (!first) {
        socket.write(chunk, callback);
        return;
      }
      first = false;
      socket.write(chunk.subarray(0, firstBytes));
      setTimeout(() => socket.write(chunk.subarray(firstBytes), callback), pauseMs);
    },
    read() {
      socket.resume();
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy();
      callback(err);
    },
  });
  socket.on("data", (chunk: Buffer) => {
    if (!duplex.push(chunk)) socket.pause();
  });
  socket.on("end", () => duplex.push(null));
  socket.on("error", (err) => duplex.destroy(err));
  return duplex;
}

describe("listenHttp1And2", () => {
  let listener: DualListener;
  let base: string;

  beforeAll(async () => {
    listener = await listenHttp1And2(echo, 0, "127.0.0.1");
    base = `http://127.0.0.1:${listener.port}`;
  });

  afterAll(async () => {
    await listener.close();
  });

  it("binds a free port when asked for port 0", () => {
    expect(listener.port).toBeGreaterThan(0);
    expect((listener.server.address() as net.AddressInfo).port).toBe(listener.port);
  });

  it("serves HTTP/1.1 to fetch", async () => {
    const res = await fetch(`${base}/hello?x=1`, { method: "POST", body: "ping" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ httpVersion: "1.1", method: "POST", url: "/hello?x=1", body: "ping" });
  });

  it("serves HTTP/1.1 to node:http, several requests on one keep-alive connection", async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<net.Socket>();
    try {
      for (const path of ["/a", "/b", "/c"]) {
        const { status, body, socket } = await new Promise<{ status: number; body: Echo; socket: net.Socket }>(
          (resolve, reject) => {
            const req = http.get(`${base}${path}`, { agent }, (res) => {
              const chunks: Buffer[] = [];
              res.on("data", (chunk: Buffer) => chunks.push(chunk));
              res.on("end", () =>
                resolve({
                  status: res.statusCode ?? 0,
                  body: JSON.parse(Buffer.concat(chunks).toString()),
                  socket: req.socket as net.Socket,
                }),
              );
            });
            req.on("error", reject);
          },
        );
        expect(status).toBe(200);
        expect(body).toMatchObject({ httpVersion: "1.1", method: "GET", url: path });
        sockets.add(socket);
      }
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });

  it("serves h2c with prior knowledge, several streams on one session", async () => {
    const session = await h2Connect(listener.port);
    try {
      const results = await Promise.all([
        h2Request(session, "/one"),
        h2Request(session, "/two", "payload"),
        h2Request(session, "/three"),
      ]);
      expect(results).toEqual([
        { status: 200, body: { httpVersion: "2.0", method: "GET", url: "/one", body: "" } },
        { status: 200, body: { httpVersion: "2.0", method: "POST", url: "/two", body: "payload" } },
        { status: 200, body: { httpVersion: "2.0", method: "GET", url: "/three", body: "" } },
      ]);
    } finally {
      session.close();
    }
  });

  it.each([1, 2, 3])("serves an HTTP/1.1 client that sends %i byte(s), pauses, then the rest", async (n) => {
    const request = "GET /slow HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
    const response = await rawExchange(listener.port, [request.slice(0, n), request.slice(n)], 60);
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toContain('"url":"/slow"');
  });

  it("serves an HTTP/1.1 client that sends one byte at a time", async () => {
    const request = "POST /drip HTTP/1.1\r\nHost: test\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
    const response = await rawExchange(listener.port, [...request], 2);
    expect(response).toMatch(/^HTTP\/1\.1 200 /);
    expect(response).toContain('"body":"ok"');
  });

  it.each([1, 3])("serves an h2c client that sends %i preface byte(s), pauses, then the rest", async (n) => {
    const session = http2.connect(`http://127.0.0.1:${listener.port}`, {
      createConnection: () => slowStartConnection(listener.port, n, 60),
    });
    try {
      const result = await h2Request(session, "/slow-h2");
      expect(result).toEqual({ status: 200, body: { httpVersion: "2.0", method: "GET", url: "/slow-h2", body: "" } });
    } finally {
      session.close();
    }
  });

  it.each([
    ["a NUL byte in a header", "X-Odd: a\u0000b\r\n", 400, "malformed_request"],
    ["a header line without a colon", "no colon here\r\n", 400, "malformed_request"],
    ["20 KB of headers", `X-Big: ${"b".repeat(20_000)}\r\n`, 431, "headers_too_large"],
  ])("answers a request with %s by a JSON error, not a bare status line", async (_, header, status, code) => {
    const request = `GET /odd HTTP/1.1\r\nHost: test\r\n${header}Connection: close\r\n\r\n`;
    const response = await rawExchange(listener.port, [request], 0);
    const [head = "", body = ""] = response.split("\r\n\r\n");
    expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
    expect(head).toMatch(/\r\ncontent-type: application\/json\r\n/);
    const { error } = JSON.parse(body) as { error: { code: string; requestId: string } };
    expect(error.code).toBe(code);
    expect(head).toContain(`x-request-id: ${error.requestId}`);
    expect((await fetch(`${base}/after`)).status).toBe(200);
  });

  it("drops a connection that closes before saying which protocol it speaks, and keeps serving", async () => {
    for (const early of ["G", "GE", "PRI"]) {
      const socket = net.connect(listener.port, "127.0.0.1");
      const received: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => received.push(chunk));
      await new Promise((resolve) => socket.once("connect", resolve));
      socket.end(early);
      await new Promise((resolve) => socket.once("close", resolve));
      expect(Buffer.concat(received).toString()).toBe("");
    }
    const res = await fetch(`${base}/after`);
    expect(res.status).toBe(200);
  });
});

describe("DualListener.close", () => {
  it("finishes in-flight HTTP/1.1 and HTTP/2 requests, refuses new connections, then resolves", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = 0;
    const slow: NodeHandler = (req, res) => {
      started++;
      void gate.then(() => echo(req, res));
    };
    const listener = await listenHttp1And2(slow, 0, "127.0.0.1");
    const base = `http://127.0.0.1:${listener.port}`;
    const session = await h2Connect(listener.port);
    const h1 = fetch(`${base}/in-flight-1`).then(async (res) => ({ status: res.status, body: await res.json() }));
    const h2 = h2Request(session, "/in-flight-2");
    while (started < 2) await sleep(5);

    let closed = false;
    const closing = listener.close().then(() => {
      closed = true;
    });
    await sleep(50);
    expect(closed).toBe(false);
    await expect(fetch(`${base}/late`)).rejects.toThrow();

    release();
    expect(await h1).toMatchObject({ status: 200, body: { url: "/in-flight-1", httpVersion: "1.1" } });
    expect(await h2).toMatchObject({ status: 200, body: { url: "/in-flight-2", httpVersion: "2.0" } });
    await closing;
    expect(closed).toBe(true);
    expect(listener.server.listening).toBe(false);
  });

  it("resolves promptly with idle keep-alive, idle h2c and undecided connections open", async () => {
    const listener = await listenHttp1And2(echo, 0, "127.0.0.1");
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve, reject) => {
      http
        .get(`http://127.0.0.1:${listener.port}/keep`, { agent }, (res) => {
          res.resume();
          res.on("end", resolve);
        })
        .on("error", reject);
    });
    const session = await h2Connect(listener.port);
    await h2Request(session, "/idle");
    // Connected, but has not sent enough bytes for the listener to pick a protocol.
    const undecided = net.connect(listener.port, "127.0.0.1");
    await new Promise((resolve) => undecided.once("connect", resolve));
    undecided.write("G");
    undecided.on("error", () => {});
    await sleep(20);

    const started = Date.now();
    await listener.close();
    expect(Date.now() - started).toBeLessThan(2_000);
    agent.destroy();
    session.destroy();
    undecided.destroy();
  });
});
