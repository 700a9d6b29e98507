import { setTimeout as sleep } from "node:timers/promises";

export const SANDBOX_KEY = "mypay_test_sandbox_4f7c2a9e1b3d5f60";
export const ADMIN_KEY = "mypay_admin_sandbox_7d2e9b4c1a6f3e80";

/** One REST answer; `status` 0 means the connection failed or timed out. */
export interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
  ms: number;
}

export interface SendOptions {
  key?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

/**
 * A REST client that never throws on a bad answer or a broken connection and counts what it got,
 * so a test can assert "0 × 5xx" over everything it sent. `baseUrl` is read at each call, so the
 * client follows a restarted gateway.
 */
export class RestClient {
  readonly statuses = new Map<number, number>();
  readonly #baseUrl: () => string;
  readonly #key: string;

  constructor(baseUrl: string | (() => string), key = SANDBOX_KEY) {
    this.#baseUrl = typeof baseUrl === "string" ? () => baseUrl : baseUrl;
    this.#key = key;
  }

  /** Answers with status ≥ 500 (network failures, status 0, not included). */
  get fiveXx(): number {
    return [...this.statuses].reduce((n, [status, count]) => n + (status >= 500 ? count : 0), 0);
  }

  /** Sends one request; `body` as a string or Buffer goes raw, anything else as JSON. */
  async send(method: string, path: string, options: SendOptions = {}): Promise<Answer> {
    const headers = new Headers(options.headers);
    if (options.key !== null) headers.set("x-api-key", options.key ?? this.#key);
    let body: string | Buffer | undefined;
    if (options.body !== undefined) {
      body =
        typeof options.body === "string" || Buffer.isBuffer(options.body) ? options.body : JSON.stringify(options.body);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
    }
    const started = performance.now();
    try {
      const res = await fetch(`${this.#baseUrl()}${path}`, {
        method,
        headers,
        body,
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      this.statuses.set(res.status, (this.statuses.get(res.status) ?? 0) + 1);
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = { unparsed: text };
      }
      return { status: res.status, body: parsed, headers: res.headers, ms: performance.now() - started };
    } catch (err) {
      return { status: 0, body: { network: String(err) }, headers: new Headers(), ms: performance.now() - started };
    }
  }

  /**
   * Creates a payout like a careful client: retries 5xx, 409 (same key in flight), 429 and broken
   * connections with the same idempotency key until a definite answer (201 or another 4xx).
   */
  async createUntilAnswered(key: string, body: unknown): Promise<Answer> {
    let last: Answer | undefined;
    for (let attempt = 0; attempt < 300; attempt++) {
      last = await this.send("POST", "/api/v1/payouts", { body, headers: { "x-idempotency-key": key } });
      const retry = last.status === 0 || last.status >= 500 || last.status === 409 || last.status === 429;
      if (!retry) return last;
      await sleep(50 + Math.random() * 150);
    }
    throw new Error(`${key}: no definite answer after 300 attempts (last ${last?.status})`);
  }
}

/** A seed-compatible payout body; the account number's suffix picks the sandbox bank's outcome. */
export function payoutBody(reference: string, suffix: string, amount = "10.00") {
  return {
    merchantReference: reference,
    amount,
    currency: "PKR",
    destType: "BANK",
    bankCode: "HBL",
    accountNumber: `123456${suffix}`,
    accountTitle: "Ali Khan",
  };
}

/** Creates a merchant with an API key and an opening balance through the admin API; returns the key. */
export async function createMerchant(gatewayUrl: string, id: string, opening: string): Promise<string> {
  const admin = new RestClient(gatewayUrl, ADMIN_KEY);
  const made = await admin.send("POST", "/api/v1/admin/merchants", { body: { id, name: id } });
  if (made.status !== 201) throw new Error(`create merchant ${id}: ${made.status} ${JSON.stringify(made.body)}`);
  const key = await admin.send("POST", `/api/v1/admin/merchants/${id}/api-keys`);
  if (key.status !== 201) throw new Error(`key for ${id}: ${key.status} ${JSON.stringify(key.body)}`);
  const topUp = await admin.send("POST", `/api/v1/admin/merchants/${id}/top-ups`, {
    body: { amount: opening, currency: "PKR" },
    headers: { "Idempotency-Key": `opening-${id}` },
  });
  if (topUp.status !== 201) throw new Error(`top up ${id}: ${topUp.status} ${JSON.stringify(topUp.body)}`);
  return key.body.key as string;
}

/** Runs `fn` over `items` with at most `limit` in flight, keeping the order of results. */
export async function pool<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}
