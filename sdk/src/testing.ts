/**
 * Node.js helpers for partners' test suites (import from `@mypay/sdk/testing`): a local webhook
 * receiver that verifies what it gets. Kept out of the main entry so browser bundles never see `node:http`.
 */
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { WebhookEvent } from "./events.ts";
import { verifyWebhook, WebhookVerificationError } from "./webhooks.ts";

export { WEBHOOK_FIXTURES, type WebhookFixtureName, webhookFixture } from "./fixtures.ts";

/** One delivery the test server accepted (its signature verified). */
export interface ReceivedWebhook {
  event: WebhookEvent;
  rawBody: string;
  headers: Record<string, string>;
  receivedAt: Date;
}

/** What the server saw of one request, verified or not; passed to `onDelivery`. */
export type DeliveryResult =
  | ({ ok: true } & ReceivedWebhook)
  | { ok: false; error: WebhookVerificationError; rawBody: string; headers: Record<string, string>; receivedAt: Date };

/** Options of {@link createWebhookTestServer}. */
export interface WebhookTestServerOptions {
  /** The endpoint's signing secret(s), `whsec_…`. */
  secret: string | string[];
  /** Port to listen on; a free one when omitted. */
  port?: number;
  /** Address to listen on (default `127.0.0.1`). */
  host?: string;
  /** Path in the returned `url` (any path is accepted; default `/webhooks`). */
  path?: string;
  /** Accepted clock skew in seconds (default 300). */
  toleranceSeconds?: number;
  /** Called for every request, verified or not, before it is answered. */
  onDelivery?: (result: DeliveryResult) => void;
}

/** A running test receiver. */
export interface WebhookTestServer {
  /** Where to send webhooks, e.g. `http://127.0.0.1:53412/webhooks`. */
  url: string;
  port: number;
  /**
   * The next delivery, in arrival order (already received ones first). Rejects with
   * `WebhookVerificationError` if that delivery failed verification, or with an `Error` after `timeoutMs`
   * (default 10,000).
   */
  next(timeoutMs?: number): Promise<ReceivedWebhook>;
  /** Every verified delivery so far. */
  received: ReceivedWebhook[];
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

function flatHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = [v].flat().join(", ");
  return headers;
}

/**
 * Starts a local webhook receiver that verifies every request with `secret`: 200 for a valid
 * signature, 400 with the reason otherwise.
 *
 * ```ts
 * const server = await createWebhookTestServer({ secret });
 * // … make your sender deliver to server.url …
 * const { event } = await server.next();
 * await server.close();
 * ```
 */
export async function createWebhookTestServer(options: WebhookTestServerOptions): Promise<WebhookTestServer> {
  const queue: DeliveryResult[] = [];
  const waiters: ((result: DeliveryResult) => void)[] = [];
  const received: ReceivedWebhook[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString("utf8");
    const headers = flatHeaders(req);
    const receivedAt = new Date();
    let result: DeliveryResult;
    try {
      const verifyOptions =
        options.toleranceSeconds === undefined ? {} : { toleranceSeconds: options.toleranceSeconds };
      const event = await verifyWebhook(rawBody, headers, options.secret, verifyOptions);
      result = { ok: true, event, rawBody, headers, receivedAt };
      received.push(result);
    } catch (err) {
      const error =
        err instanceof WebhookVerificationError ? err : new WebhookVerificationError(`body is not JSON: ${err}`);
      result = { ok: false, error, rawBody, headers, receivedAt };
    }
    options.onDelivery?.(result);
    res
      .writeHead(result.ok ? 200 : 400, { "content-type": "application/json" })
      .end(JSON.stringify(result.ok ? { received: true } : { error: result.error.message }));
    const waiter = waiters.shift();
    if (waiter) waiter(result);
    else queue.push(result);
  });
  await new Promise<void>((done, fail) => {
    server.once("error", fail);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => done());
  });
  const { port, address } = server.address() as AddressInfo;
  const host = address.includes(":") ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}${options.path ?? "/webhooks"}`,
    port,
    received,
    next(timeoutMs = 10_000) {
      const settle = (result: DeliveryResult): ReceivedWebhook => {
        if (!result.ok) throw result.error;
        return result;
      };
      const ready = queue.shift();
      if (ready) return Promise.resolve().then(() => settle(ready));
      return new Promise<ReceivedWebhook>((done, fail) => {
        const waiter = (result: DeliveryResult) => {
          clearTimeout(timer);
          try {
            done(settle(result));
          } catch (err) {
            fail(err);
          }
        };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          fail(new Error(`no webhook arrived within ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    close() {
      return new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      });
    },
  };
}
