import { createLogger, type Database, openDatabase, testStorage } from "@mypay/kit";
import { Registry } from "prom-client";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { AttemptResult, MessageStatus } from "../domain/delivery.ts";
import { DeliveryStore } from "../store/delivery-store.ts";
import { EndpointStore } from "../store/endpoint-store.ts";
import { Attempt, Event, entities, Message } from "../store/entities.ts";
import { EventStore, type NewEvent } from "../store/event-store.ts";
import { migrations } from "../store/migrations/index.ts";
import { DeliveryLoop } from "./delivery-loop.ts";
import { createDeliveryMetrics } from "./delivery-metrics.ts";
import type { Resolver } from "./target-guard.ts";
import { closedPort, startReceiver, until } from "./test-receiver.ts";
import { USER_AGENT, WebhookSender } from "./webhook-sender.ts";

const logger = createLogger("notifier-test", "silent");
/** Loopback only: tests never make a name lookup or a connection off this machine. */
const loopbackResolver: Resolver = async () => [{ address: "127.0.0.1", family: 4 }];

interface HarnessOptions {
  schedule?: number[];
  timeoutMs?: number;
  allowLoopback?: boolean;
  batchSize?: number;
}

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh database with the stores, a sender and a loop over it. */
async function harness(options: HarnessOptions = {}) {
  const db: Database = await openDatabase({
    service: "notifier",
    settings: testStorage(),
    entities,
    migrations,
    logger,
  });
  cleanups.push(async () => {
    if (db.kind !== "sqlite") await db.orm.schema.dropDatabase();
    await db.close();
  });
  const schedule = options.schedule ?? [0, 50, 50];
  const timeoutMs = options.timeoutMs ?? 5_000;
  const policy = { allowLoopback: options.allowLoopback ?? true, resolve: loopbackResolver };
  const deliveries = new DeliveryStore(db);
  const registry = new Registry();
  const metrics = createDeliveryMetrics(registry, () => deliveries.queueDepth(), logger);
  const makeLoop = () => {
    const sender = new WebhookSender({ policy, timeoutMs });
    cleanups.push(() => sender.close());
    return new DeliveryLoop({
      store: deliveries,
      sender,
      logger,
      metrics,
      retrySchedule: schedule,
      batchSize: options.batchSize ?? 64,
      concurrency: 8,
      timeoutMs,
    });
  };
  return {
    db,
    deliveries,
    registry,
    endpoints: new EndpointStore(db),
    events: new EventStore(db, schedule),
    loop: makeLoop(),
    makeLoop,
    messages: () => db.em().find(Message, {}, { orderBy: { createdAt: "asc", id: "asc" } }),
    attempts: (messageId: string) => db.em().find(Attempt, { messageId }, { orderBy: { attempt: "asc" } }),
  };
}

let sequence = 0;
function event(merchantId: string, overrides: Partial<NewEvent> = {}): NewEvent {
  sequence++;
  return {
    id: `evt_${Date.now()}_${sequence}`,
    type: "payout.updated",
    merchantId,
    occurredAt: new Date(),
    payload: JSON.stringify({ type: "payout.updated", event: "payout.updated", payoutId: `po_${sequence}` }),
    ...overrides,
  };
}

async function receiverFor(respond?: Parameters<typeof startReceiver>[0]) {
  const receiver = await startReceiver(respond);
  cleanups.push(() => receiver.close());
  return receiver;
}

function metricValue(text: string, line: string): number | undefined {
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe("webhook delivery", () => {
  it("delivers a published event, signed, to each matching endpoint of its merchant", async () => {
    const h = await harness();
    const receiver = await receiverFor(() => ({ status: 204 }));
    const filtered = await h.endpoints.create({
      merchantId: "mch_a",
      url: `${receiver.url}?ep=filtered`,
      description: "",
      eventTypes: ["payout.updated"],
    });
    const all = await h.endpoints.create({
      merchantId: "mch_a",
      url: `${receiver.url}?ep=all`,
      description: "",
      eventTypes: [],
    });
    await h.endpoints.create({
      merchantId: "mch_a",
      url: `${receiver.url}?ep=other`,
      description: "",
      eventTypes: ["x.y"],
    });
    await h.endpoints.create({ merchantId: "mch_b", url: `${receiver.url}?ep=b`, description: "", eventTypes: [] });

    const published = event("mch_a");
    expect(await h.events.publish([published])).toEqual({ accepted: 1, queued: 2 });
    await h.loop.tick();

    expect(receiver.received).toHaveLength(2);
    const secrets = [filtered.secret, all.secret];
    for (const request of receiver.received) {
      expect(request.body).toBe(published.payload);
      expect(request.headers["content-type"]).toBe("application/json");
      expect(request.headers["user-agent"]).toBe(USER_AGENT);
      const headers = {
        "webhook-id": String(request.headers["webhook-id"]),
        "webhook-timestamp": String(request.headers["webhook-timestamp"]),
        "webhook-signature": String(request.headers["webhook-signature"]),
      };
      expect(headers["webhook-id"]).toMatch(/^msg_[A-Za-z0-9]{22}$/);
      expect(Math.abs(Number(headers["webhook-timestamp"]) - Date.now() / 1000)).toBeLessThan(10);
      const verified = secrets.filter((secret) => {
        try {
          new Webhook(secret).verify(request.body, headers);
          return true;
        } catch {
          return false;
        }
      });
      expect(verified).toHaveLength(1);
    }
    const messages = await h.messages();
    expect(messages.map((m) => m.status)).toEqual([MessageStatus.DELIVERED, MessageStatus.DELIVERED]);
    expect(new Set(receiver.received.map((r) => r.headers["webhook-id"]))).toEqual(new Set(messages.map((m) => m.id)));
    const [attempt] = await h.attempts(messages[0]!.id);
    expect(attempt).toMatchObject({ attempt: 1, result: AttemptResult.DELIVERED, statusCode: 204, error: null });
    expect(attempt?.latencyMs).toBeGreaterThanOrEqual(0);

    const scraped = await h.registry.metrics();
    expect(metricValue(scraped, 'webhook_attempts_total{result="delivered",status_class="2xx"}')).toBe(2);
    expect(metricValue(scraped, "webhook_delivery_seconds_count")).toBe(2);
    expect(metricValue(scraped, "webhook_queue_depth")).toBe(0);
  });

  it("stores a duplicate event id once and delivers it once", async () => {
    const h = await harness();
    const receiver = await receiverFor();
    await h.endpoints.create({ merchantId: "mch_dup", url: receiver.url, description: "", eventTypes: [] });
    const first = event("mch_dup");
    const again = { ...first, payload: '{"changed":true}' };
    expect(await h.events.publish([first, again])).toEqual({ accepted: 1, queued: 1 });
    expect(await h.events.publish([again])).toEqual({ accepted: 0, queued: 0 });
    await h.loop.tick();
    expect(await h.events.publish([first, event("mch_dup")])).toEqual({ accepted: 1, queued: 1 });
    await h.loop.tick();

    expect(await h.db.em().count(Event, { id: first.id })).toBe(1);
    expect(receiver.received.filter((r) => r.body === first.payload)).toHaveLength(1);
    expect(receiver.received.filter((r) => r.body === again.payload)).toHaveLength(0);
    expect(receiver.received).toHaveLength(2);
  });

  it("retries a failed attempt with the same webhook-id and records each attempt", async () => {
    const h = await harness({ schedule: [0, 50, 50] });
    const longBody = "e".repeat(5_000);
    const receiver = await receiverFor((_req, n) =>
      n === 0 ? { status: 500, body: longBody } : { status: 200, body: "thanks" },
    );
    const { secret } = await h.endpoints.create({
      merchantId: "mch_r",
      url: receiver.url,
      description: "",
      eventTypes: [],
    });
    await h.events.publish([event("mch_r")]);

    await h.loop.tick();
    expect(receiver.received).toHaveLength(1);
    let [message] = await h.messages();
    expect(message).toMatchObject({ status: MessageStatus.PENDING, attempts: 1, leaseToken: null, lockedUntil: null });

    await until(
      () => receiver.received.length >= 2,
      () => h.loop.tick(),
    );
    [message] = await h.messages();
    expect(message).toMatchObject({ status: MessageStatus.DELIVERED, attempts: 2 });
    const ids = receiver.received.map((r) => r.headers["webhook-id"]);
    expect(ids).toEqual([message!.id, message!.id]);
    for (const request of receiver.received) {
      const headers = Object.fromEntries(
        ["webhook-id", "webhook-timestamp", "webhook-signature"].map((k) => [k, String(request.headers[k])]),
      );
      expect(() => new Webhook(secret).verify(request.body, headers)).not.toThrow();
    }
    const attempts = await h.attempts(message!.id);
    expect(attempts.map((a) => [a.attempt, a.result, a.statusCode])).toEqual([
      [1, AttemptResult.HTTP_ERROR, 500],
      [2, AttemptResult.DELIVERED, 200],
    ]);
    expect(attempts[0]?.error).toBe("HTTP 500");
    expect(attempts[0]?.responseExcerpt).toBe(longBody.slice(0, 1024));
    expect(attempts[1]?.responseExcerpt).toBe("thanks");
  });

  it("dead-letters a message after the last attempt when the receiver stays down", async () => {
    const h = await harness({ schedule: [0, 30, 30] });
    const port = await closedPort();
    await h.endpoints.create({
      merchantId: "mch_down",
      url: `http://127.0.0.1:${port}/hook`,
      description: "",
      eventTypes: [],
    });
    await h.events.publish([event("mch_down")]);

    await until(
      async () => (await h.messages())[0]?.status === MessageStatus.DEAD,
      () => h.loop.tick(),
    );
    const [message] = await h.messages();
    expect(message).toMatchObject({ status: MessageStatus.DEAD, attempts: 3 });
    const attempts = await h.attempts(message!.id);
    expect(attempts).toHaveLength(3);
    for (const attempt of attempts) {
      expect(attempt).toMatchObject({ result: AttemptResult.NETWORK_ERROR, statusCode: null });
      expect(attempt.error).toMatch(/ECONNREFUSED/);
    }
    // Nothing more happens to a dead message.
    await h.loop.tick();
    expect(await h.attempts(message!.id)).toHaveLength(3);

    const scraped = await h.registry.metrics();
    expect(metricValue(scraped, 'webhook_attempts_total{result="network_error",status_class="none"}')).toBe(3);
    expect(metricValue(scraped, "webhook_dead_letters")).toBe(1);
    expect(metricValue(scraped, "webhook_queue_depth")).toBe(0);
  });

  it("counts an attempt with no answer within the timeout as failed", async () => {
    const h = await harness({ schedule: [0], timeoutMs: 300 });
    const receiver = await receiverFor(() => "hang");
    await h.endpoints.create({ merchantId: "mch_slow", url: receiver.url, description: "", eventTypes: [] });
    await h.events.publish([event("mch_slow")]);
    const started = Date.now();
    await h.loop.tick();
    expect(Date.now() - started).toBeLessThan(5_000);
    const [message] = await h.messages();
    expect(message?.status).toBe(MessageStatus.DEAD);
    const [attempt] = await h.attempts(message!.id);
    expect(attempt).toMatchObject({ result: AttemptResult.TIMEOUT, statusCode: null });
    expect(attempt?.latencyMs).toBeGreaterThanOrEqual(290);
  });

  it("never delivers one attempt twice when several loops share the database", async () => {
    const h = await harness({ batchSize: 8 });
    const receiver = await receiverFor();
    await h.endpoints.create({ merchantId: "mch_many", url: receiver.url, description: "", eventTypes: [] });
    const published = Array.from({ length: 60 }, () => event("mch_many"));
    await h.events.publish(published);
    const loops = [h.loop, h.makeLoop(), h.makeLoop()];
    await until(
      () => receiver.received.length >= published.length,
      () => Promise.all(loops.map((loop) => loop.tick())),
    );
    await Promise.all(loops.map((loop) => loop.tick()));
    const ids = receiver.received.map((r) => String(r.headers["webhook-id"]));
    expect(ids).toHaveLength(published.length);
    expect(new Set(ids).size).toBe(published.length);
    const messages = await h.messages();
    expect(messages.every((m) => m.status === MessageStatus.DELIVERED && m.attempts === 1)).toBe(true);
  });

  it("claims a message again when its lease ends, and ignores the stale claim's results", async () => {
    const h = await harness();
    const receiver = await receiverFor();
    await h.endpoints.create({ merchantId: "mch_lease", url: receiver.url, description: "", eventTypes: [] });
    await h.events.publish([event("mch_lease")]);

    // A claimer that dies before recording anything.
    const crashed = await h.deliveries.claimDue(10, 200);
    expect(crashed.messages).toHaveLength(1);
    expect((await h.deliveries.claimDue(10, 200)).messages).toHaveLength(0);
    await h.loop.tick();
    expect(receiver.received).toHaveLength(0);

    await new Promise((resolve) => setTimeout(resolve, 250));
    await h.loop.tick();
    expect(receiver.received).toHaveLength(1);
    const [message] = await h.messages();
    expect(message).toMatchObject({ status: MessageStatus.DELIVERED, attempts: 1 });

    // The stale claimer wakes up and reports a failure: its attempt is kept, the state is not touched.
    const stale = crashed.messages[0]!;
    await h.deliveries.recordAttempts(crashed.token, [
      {
        message: stale,
        attemptedAt: new Date(),
        result: AttemptResult.HTTP_ERROR,
        statusCode: 503,
        latencyMs: 1,
        error: "HTTP 503",
        responseExcerpt: undefined,
        next: { status: MessageStatus.DEAD },
      },
    ]);
    expect((await h.messages())[0]).toMatchObject({ status: MessageStatus.DELIVERED, attempts: 1 });
    expect(await h.attempts(stale.id)).toHaveLength(2);
  });

  it("connects through the checked name lookup when the endpoint names a host", async () => {
    const h = await harness();
    const receiver = await receiverFor();
    await h.endpoints.create({
      merchantId: "mch_named",
      url: `http://receiver.test:${receiver.port}/hooks`,
      description: "",
      eventTypes: [],
    });
    await h.events.publish([event("mch_named")]);
    await h.loop.tick();
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]?.headers.host).toBe(`receiver.test:${receiver.port}`);
    expect((await h.messages())[0]?.status).toBe(MessageStatus.DELIVERED);
  });

  it("never connects to a forbidden address at send time", async () => {
    const h = await harness({ allowLoopback: false, schedule: [0] });
    const receiver = await receiverFor();
    // Registered while allowed (or before DNS changed): stored directly, as an old row would be.
    await h.endpoints.create({ merchantId: "mch_rebind", url: receiver.url, description: "", eventTypes: [] });
    await h.endpoints.create({
      merchantId: "mch_rebind",
      url: `http://rebound.test:${receiver.port}/`,
      description: "",
      eventTypes: [],
    });
    await h.events.publish([event("mch_rebind")]);
    await h.loop.tick();

    expect(receiver.connections()).toBe(0);
    const messages = await h.messages();
    expect(messages).toHaveLength(2);
    for (const message of messages) {
      expect(message.status).toBe(MessageStatus.DEAD);
      const [attempt] = await h.attempts(message.id);
      expect(attempt).toMatchObject({ result: AttemptResult.REFUSED, statusCode: null });
      expect(attempt?.error).toMatch(/loopback/);
    }
  });
});
