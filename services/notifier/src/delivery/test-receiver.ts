/** A webhook receiver on 127.0.0.1 for tests: records what arrives and answers as told. */
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedWebhook {
  headers: IncomingHttpHeaders;
  body: string;
}

/** An answer: status, body, headers, and how long to wait before sending it. */
export interface Answer {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  delayMs?: number;
}

/** What to answer to the n-th request (0-based); "hang" never answers. */
export type Responder = (request: ReceivedWebhook, n: number) => Answer | "hang";

export interface Receiver {
  url: string;
  port: number;
  received: ReceivedWebhook[];
  /** TCP connections accepted, including those that never sent a request. */
  connections(): number;
  close(): Promise<void>;
}

/** Starts a receiver on `port` (default: any free one). */
export async function startReceiver(
  respond: Responder = () => ({ status: 200, body: "ok" }),
  port = 0,
): Promise<Receiver> {
  const received: ReceivedWebhook[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const request = { headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      const answer = respond(request, received.length);
      received.push(request);
      if (answer === "hang") return;
      const send = () => {
        res.writeHead(answer.status, { "content-type": "text/plain", ...answer.headers });
        res.end(answer.body ?? "");
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", resolve);
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${bound}/webhooks`,
    port: bound,
    received,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A loopback port with nothing listening: connections to it are refused. */
export async function closedPort(): Promise<number> {
  const receiver = await startReceiver();
  await receiver.close();
  return receiver.port;
}

/** Calls `step` until `done()` holds, failing after `timeoutMs`. */
export async function until(
  done: () => boolean | Promise<boolean>,
  step: () => Promise<unknown>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await step();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
