import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { AttemptResult, parseRetryAfter, resultOfStatus } from "../domain/delivery.ts";
import { webhookHeaders } from "../domain/signature.ts";
import { type ParsedTarget, parseTargetUrl, refusalOf } from "../domain/target-policy.ts";
import { guardedLookup, type TargetPolicy, TargetRefusedError } from "./target-guard.ts";

export const USER_AGENT = "MyPay-Webhooks/1";

/** Bytes of the response body kept with each attempt. */
export const EXCERPT_BYTES = 1024;

/** Past this many response bytes the connection is dropped rather than drained for reuse. */
const DRAIN_LIMIT_BYTES = 64 * 1024;

/** An idle pooled connection is closed after this long, before a typical server's own 5 s limit. */
const IDLE_CONNECTION_MS = 4_000;

export interface Delivery {
  /** The `webhook-id`: the message id, the same on every retry. */
  messageId: string;
  url: string;
  /** Secrets that sign this attempt: the current one first, during a rotation the previous one too. */
  secrets: readonly string[];
  /** The exact JSON body. */
  body: string;
}

export interface AttemptOutcome {
  attemptedAt: Date;
  result: AttemptResult;
  statusCode: number | undefined;
  latencyMs: number;
  error: string | undefined;
  responseExcerpt: string | undefined;
  /** On 429: how long the receiver's `Retry-After` asks to wait (capped). */
  retryAfterMs?: number | undefined;
}

export interface WebhookSenderOptions {
  policy: TargetPolicy;
  /** Limit on one attempt, from connecting to the last byte read. */
  timeoutMs: number;
  /** Longest `Retry-After` honoured; longer requests are cut to this. */
  retryAfterCapMs?: number;
}

const DEFAULT_RETRY_AFTER_CAP_MS = 3_600_000;

/** Node's client for one URL scheme, with its connection pool. */
interface Client {
  request: typeof http.request;
  agent: http.Agent;
}

/** An endpoint URL that passed `parseTargetUrl`. */
type Target = Extract<ParsedTarget, { ok: true }>;

/** Clients by URL scheme (`parseTargetUrl` admits only these two). */
type Clients = Record<"http:" | "https:", Client>;

/**
 * Sends signed webhooks over pooled keep-alive connections (Node's own HTTP client: an HTTP library
 * cost this process 13–15 MB more peak memory for the same CPU per request). Never follows redirects and
 * never connects to an address the policy forbids, whatever the host resolves to at send time.
 */
export class WebhookSender {
  readonly #clients: Clients;
  readonly #policy: TargetPolicy;
  readonly #timeoutMs: number;
  readonly #retryAfterCapMs: number;

  constructor(options: WebhookSenderOptions) {
    this.#policy = options.policy;
    this.#timeoutMs = options.timeoutMs;
    this.#retryAfterCapMs = options.retryAfterCapMs ?? DEFAULT_RETRY_AFTER_CAP_MS;
    const pool = { keepAlive: true, timeout: IDLE_CONNECTION_MS, lookup: guardedLookup(options.policy) };
    this.#clients = {
      "http:": { request: http.request, agent: new http.Agent(pool) },
      "https:": { request: https.request, agent: new https.Agent(pool) },
    };
  }

  /** Makes one attempt. Never throws: every failure is an outcome to record. */
  async send(delivery: Delivery): Promise<AttemptOutcome> {
    const attemptedAt = new Date();
    const started = performance.now();
    const outcome = (result: AttemptResult, extra: Partial<AttemptOutcome>): AttemptOutcome => ({
      attemptedAt,
      result,
      statusCode: undefined,
      latencyMs: Math.round(performance.now() - started),
      error: undefined,
      responseExcerpt: undefined,
      ...extra,
    });
    const target = parseTargetUrl(delivery.url);
    if (!target.ok) return outcome(AttemptResult.REFUSED, { error: `endpoint url ${target.message}` });
    // Sockets skip the name lookup for address literals, so those are checked here.
    const refusal = target.literal ? refusalOf(target.host, this.#policy.allowLoopback) : undefined;
    if (refusal) return outcome(AttemptResult.REFUSED, { error: `refused to connect: ${refusal}` });

    const headers = {
      ...webhookHeaders({
        messageId: delivery.messageId,
        timestamp: Math.floor(attemptedAt.getTime() / 1000),
        body: delivery.body,
        secrets: delivery.secrets,
      }),
      "content-type": "application/json",
      "content-length": String(Buffer.byteLength(delivery.body)),
      "user-agent": USER_AGENT,
    };
    const client = this.#clients[target.url.protocol as keyof Clients];
    const attempt = new Attempt(client, target, headers, this.#timeoutMs);
    try {
      const res = await attempt.post(delivery.body);
      const responseExcerpt = await readExcerpt(res);
      const statusCode = res.statusCode ?? 0; // always set on a client's response
      const result = resultOfStatus(statusCode);
      return outcome(result, {
        statusCode,
        responseExcerpt,
        error: result === AttemptResult.DELIVERED ? undefined : `HTTP ${statusCode}`,
        retryAfterMs:
          statusCode === 429
            ? parseRetryAfter(res.headers["retry-after"], new Date(), this.#retryAfterCapMs)
            : undefined,
      });
    } catch (err) {
      return outcome(...classifyError(err, attempt.timedOut, this.#timeoutMs));
    } finally {
      attempt.finish();
    }
  }

  /** Closes pooled connections, cutting attempts still in flight (stop the delivery loop first). */
  close(): void {
    for (const { agent } of Object.values(this.#clients)) agent.destroy();
  }
}

/**
 * One request under one time limit, from connecting to the last byte read. A plain timer that destroys
 * the request costs less per attempt than an `AbortSignal.timeout` and its listeners.
 */
class Attempt {
  timedOut = false;
  readonly #client: Client;
  readonly #target: Target;
  readonly #headers: Record<string, string>;
  readonly #timer: NodeJS.Timeout;
  #request: http.ClientRequest | undefined;

  constructor(client: Client, target: Target, headers: Record<string, string>, timeoutMs: number) {
    this.#client = client;
    this.#target = target;
    this.#headers = headers;
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.#request?.destroy(new Error(`no response within ${timeoutMs} ms`));
    }, timeoutMs);
  }

  /** Sends the request; resolves with the response once its head has arrived. */
  post(body: string): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const { url, host } = this.#target;
      const req = this.#client.request(
        {
          protocol: url.protocol,
          // Without an IPv6 literal's brackets, which a request's host name must not carry.
          hostname: host,
          port: url.port,
          path: url.pathname + url.search,
          method: "POST",
          headers: this.#headers,
          agent: this.#client.agent,
        },
        resolve,
      );
      this.#request = req;
      req.once("error", reject);
      req.end(body);
    });
  }

  /** Stops the clock; call once the response is read or the attempt has failed. */
  finish(): void {
    clearTimeout(this.#timer);
  }
}

function classifyError(err: unknown, timedOut: boolean, timeoutMs: number): [AttemptResult, Partial<AttemptOutcome>] {
  const code = (err as { code?: string }).code;
  if (err instanceof TargetRefusedError || code === "ETARGETREFUSED") {
    return [AttemptResult.REFUSED, { error: (err as Error).message }];
  }
  if (timedOut) {
    return [AttemptResult.TIMEOUT, { error: `no response within ${timeoutMs} ms` }];
  }
  const message = err instanceof Error ? err.message : String(err);
  return [AttemptResult.NETWORK_ERROR, { error: code ? `${code}: ${message}` : message }];
}

/**
 * The first EXCERPT_BYTES of a body. The rest is drained so the connection can be reused, up to a
 * limit past which the body and its connection are destroyed. Resolves, never rejects: the status is what
 * counts, and a body cut short still leaves its first bytes.
 */
function readExcerpt(res: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const kept: Buffer[] = [];
    let keptBytes = 0;
    let total = 0;
    const done = () => resolve(keptBytes > 0 ? Buffer.concat(kept).toString("utf8") : undefined);
    res.on("data", (chunk: Buffer) => {
      if (keptBytes < EXCERPT_BYTES) {
        const part = chunk.subarray(0, EXCERPT_BYTES - keptBytes);
        kept.push(part);
        keptBytes += part.length;
      }
      total += chunk.length;
      if (total > DRAIN_LIMIT_BYTES) {
        res.destroy();
        done();
      }
    });
    res.once("end", done);
    // An error (a reset, the time limit) is followed by 'close'.
    res.on("error", () => {});
    res.once("close", done);
  });
}
