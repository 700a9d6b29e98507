import { createLogger, type Database, type Logger, openDatabase, testStorage } from "@mypay/kit";
import { Registry } from "prom-client";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { AttemptResult, MessageStatus } from "../domain/delivery.ts";
import { DeliveryStore } from "../store/delivery-store.ts";
import { EndpointStore } from "../store/endpoint-store.ts";
import { Attempt, Endpoint, Event, entities, Message } from "../store/entities.ts";
import { EventStore, type NewEvent } from "../store/event-store.ts";
import { MessageStore } from "../store/message-store.ts";
import { migrations } from "../store/migrations/index.ts";
import { DeliveryLoop } from "./delivery-loop.ts";
import { createDeliveryMetrics } from "./delivery-metrics.ts";
import { announceDisabled } from "./endpoint-disabled.ts";
import type { Resolver } from "./target-guard.ts";
import { closedPort, type ReceivedWebhook, startReceiver, until } from "./test-receiver.ts";
import { USER_AGENT, WebhookSender } from "./webhook-sender.ts";

const logger = createLogger("notifier-test", "silent");
/** Loopback only: tests never make a name lookup or a connection off this machine. */
const loopbackResolver: Resolver = async () => [{ address: "127.0.0.1", family: 4 }];

interface HarnessOptions {
  schedule?: number[];
  timeoutMs?: number;
  allowLoopback?: boolean;
  batchSize?: number;
  concurrency?: number;
  endpointConcurrency?: number;
  disableAfterMs?: number;
  clock?: () => Date;
  logger?: Logger;
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
  const events = new EventStore(db, schedule);
  const makeLoop = () => {
    const sender = new WebhookSender({ policy, timeoutMs });
    cleanups.push(async () => sender.close());
    const loop = new DeliveryLoop({
      store: deliveries,
      sender,
      logger,
      metrics,
      retrySchedule: schedule,
      batchSize: options.batchSize ?? 64,
      concurrency: options.concurrency ?? 8,
      endpointConcurrency: options.endpointConcurrency ?? 4,
      timeoutMs,
      leaseMarginMs: 5_000,
      disableAfterMs: options.disableAfterMs ?? 3_600_000,
      clock: options.clock,
      onEndpointsDisabled: announceDisabled(events, () => undefined),
    });
    cleanups.push(() => loop.stop());
    return loop;
  };
  return {
    db,
    deliveries,
    registry,
    endpoints: new EndpointStore(db),
    store: new MessageStore(db),
    events,
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
    subjectId: `po_${sequence}`,
    occurredAt: new Date(),
    payload: JSON.stringify({ type: "payout.updated", event: "payout.updated", payoutId: `po_${sequence}` }),
    ...overrides,
  };
}

async function receiverFor(respond?: Parameters<typeof startReceiver>[0], port?: number) {
  const receiver = await startReceiver(respond, port);
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
    expect(await h.events.publish([published])).toEqual({ accepted: 1, queued: 2, handedOver: 0 });
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
      expect(headers["webhook-id"]).toMatch(/^msg_[0-9a-f]{28}$/);
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
    expect(await h.events.publish([first, again])).toEqual({ accepted: 1, queued: 1, handedOver: 0 });
    expect(await h.events.publish([again])).toEqual({ accepted: 0, queued: 0, handedOver: 0 });
    await h.loop.tick();
    expect(await h.events.publish([first, event("mch_dup")])).toEqual({ accepted: 1, queued: 1, handedOver: 0 });
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
    expect(crashed).toHaveLength(1);
    expect(await h.deliveries.claimDue(10, 200)).toHaveLength(0);
    await h.loop.tick();
    expect(receiver.received).toHaveLength(0);

    await new Promise((resolve) => setTimeout(resolve, 250));
    await h.loop.tick();
    expect(receiver.received).toHaveLength(1);
    const [message] = await h.messages();
    expect(message).toMatchObject({ status: MessageStatus.DELIVERED, attempts: 1 });

    // The stale claimer wakes up and reports a failure: its attempt is kept, the state is not touched.
    const stale = crashed[0]!;
    await h.deliveries.recordAttempts(
      [
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
      ],
      { disableAfterMs: 3_600_000 },
    );
    expect((await h.messages())[0]).toMatchObject({ status: MessageStatus.DELIVERED, attempts: 1 });
    expect(await h.attempts(stale.id)).toHaveLength(2);
  });

  it("sends what this process publishes at once, under a lease no claim can take, without claiming it", async () => {
    const h = await harness();
    const receiver = await receiverFor();
    await h.endpoints.create({ merchantId: "mch_hand", url: receiver.url, description: "", eventTypes: [] });
    const held: string[] = [];
    const publisher = new EventStore(h.db, [0, 50, 50], {
      handoff: {
        leaseMs: 60_000,
        deliver: (messages) => {
          held.push(...messages.map((m) => m.id));
          h.loop.handoff(messages);
        },
      },
    });
    const published = event("mch_hand");
    expect(await publisher.publish([published])).toEqual({ accepted: 1, queued: 1, handedOver: 1 });
    // Leased to this process from the insert on: another claimer sees nothing due.
    expect(await h.deliveries.claimDue(10, 60_000)).toEqual([]);
    await until(
      () => receiver.received.length === 1,
      () => h.loop.tick(),
    );
    expect(receiver.received[0]?.headers["webhook-id"]).toBe(held[0]);
    expect(receiver.received[0]?.body).toBe(published.payload);
    await until(
      async () => (await h.messages())[0]?.status === MessageStatus.DELIVERED,
      () => h.loop.tick(),
    );
    expect((await h.messages())[0]).toMatchObject({ id: held[0], attempts: 1, leaseToken: null, lockedUntil: null });
  });

  it("hands over only what the loop has room for; the rest waits in the table, unleased, and each goes out once", async () => {
    // Room: 2 × concurrency = 4 queued or in flight, 2 × endpointConcurrency = 2 held per endpoint.
    const h = await harness({ concurrency: 2, endpointConcurrency: 1 });
    const receiver = await receiverFor(() => ({ status: 200, delayMs: 20 }));
    for (const name of ["a", "b", "c"]) {
      await h.endpoints.create({
        merchantId: "mch_room",
        url: `${receiver.url}?ep=${name}`,
        description: "",
        eventTypes: [],
      });
    }
    const publisher = new EventStore(h.db, [0, 50, 50], {
      handoff: { leaseMs: 60_000, deliver: (messages) => h.loop.handoff(messages), admit: () => h.loop.admission() },
    });
    // 4 events × 3 endpoints = 12 messages: at most 2 per endpoint, and 4 in all, are handed over.
    const published = [1, 2, 3, 4].map(() => event("mch_room"));
    expect(await publisher.publish(published)).toEqual({ accepted: 4, queued: 12, handedOver: 4 });
    const stored = await h.messages();
    const leased = stored.filter((m) => m.leaseToken !== null);
    expect(leased).toHaveLength(4);
    const perEndpoint = new Map<string, number>();
    for (const m of leased) perEndpoint.set(m.endpointId, (perEndpoint.get(m.endpointId) ?? 0) + 1);
    expect(Math.max(...perEndpoint.values())).toBe(2);
    await until(
      async () => (await h.messages()).every((m) => m.status === MessageStatus.DELIVERED),
      () => h.loop.tick(),
    );
    const ids = receiver.received.map((r) => r.headers["webhook-id"]);
    expect(new Set(ids).size).toBe(12);
    expect(ids).toHaveLength(12);
    for (const message of await h.messages()) expect(message.attempts).toBe(1);
  });

  it("leaves what a publisher that died before sending had in hand to a claim once the lease ends", async () => {
    const h = await harness();
    const receiver = await receiverFor();
    await h.endpoints.create({ merchantId: "mch_died", url: receiver.url, description: "", eventTypes: [] });
    const dying = new EventStore(h.db, [0, 50, 50], { handoff: { leaseMs: 200, deliver: () => {} } });
    await dying.publish([event("mch_died")]);
    await h.loop.tick();
    expect(receiver.received).toHaveLength(0);
    await new Promise((resolve) => setTimeout(resolve, 250));
    await until(
      () => receiver.received.length === 1,
      () => h.loop.tick(),
    );
    expect((await h.messages())[0]).toMatchObject({ status: MessageStatus.DELIVERED, attempts: 1 });
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

/** The Standard Webhooks headers of a received request. */
function signedHeaders(request: ReceivedWebhook): Record<string, string> {
  return Object.fromEntries(
    ["webhook-id", "webhook-timestamp", "webhook-signature"].map((k) => [k, String(request.headers[k])]),
  );
}

function verifies(secret: string, request: ReceivedWebhook): boolean {
  try {
    new Webhook(secret).verify(request.body, signedHeaders(request));
    return true;
  } catch {
    return false;
  }
}

const HOUR = 3_600_000;

describe("delivery rules", () => {
  it("signs with both secrets during a rotation's grace period and only the new one after", async () => {
    let offset = 0;
    const clock = () => new Date(Date.now() + offset);
    const h = await harness({ clock });
    const receiver = await receiverFor();
    const { endpoint, secret: old } = await h.endpoints.create({
      merchantId: "mch_rot",
      url: receiver.url,
      description: "",
      eventTypes: [],
    });
    const rotation = await h.endpoints.rotateSecret("mch_rot", endpoint.id, 24 * HOUR, clock());
    expect(rotation?.secret).toMatch(/^whsec_/);
    expect(rotation?.secret).not.toBe(old);
    const fresh = rotation!.secret;

    await h.events.publish([event("mch_rot")]);
    await h.loop.tick();
    const [during] = receiver.received;
    expect(String(during?.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(verifies(fresh, during!)).toBe(true);
    expect(verifies(old, during!)).toBe(true);

    offset = 25 * HOUR;
    await h.events.publish([event("mch_rot")]);
    await h.loop.tick();
    const after = receiver.received[1]!;
    expect(String(after.headers["webhook-signature"]).split(" ")).toHaveLength(1);
    expect(verifies(fresh, after)).toBe(true);
    expect(verifies(old, after)).toBe(false);
  });

  it("dead-letters while the receiver is down, and a replay after it recovers delivers the same webhook-id", async () => {
    const h = await harness({ schedule: [0, 20, 20] });
    const port = await closedPort();
    await h.endpoints.create({
      merchantId: "mch_replay",
      url: `http://127.0.0.1:${port}/webhooks`,
      description: "",
      eventTypes: [],
    });
    await h.events.publish([event("mch_replay"), event("mch_replay")]);
    await until(
      async () => (await h.messages()).every((m) => m.status === MessageStatus.DEAD),
      () => h.loop.tick(),
    );
    const [first, second] = await h.messages();
    const receiver = await receiverFor(undefined, port);
    const replayed = await h.store.replay("mch_replay", first!.id);
    expect(replayed).toMatchObject({ id: first!.id, status: MessageStatus.PENDING });
    await h.loop.tick();
    expect(receiver.received.map((r) => r.headers["webhook-id"])).toEqual([first!.id]);
    expect((await h.messages())[0]).toMatchObject({ status: MessageStatus.DELIVERED, attempts: 4 });
    // Another merchant cannot replay it, and bulk replay picks up the rest.
    expect(await h.store.replay("mch_other", second!.id)).toBe("not_found");
    expect(await h.store.replayFailed("mch_replay", new Date(Date.now() - HOUR))).toBe(1);
    await h.loop.tick();
    expect(receiver.received.map((r) => r.headers["webhook-id"])).toEqual([first!.id, second!.id]);
    // A delivered message can be replayed once more, again with its id.
    await h.store.replay("mch_replay", first!.id);
    await h.loop.tick();
    expect(receiver.received.at(-1)?.headers["webhook-id"]).toBe(first!.id);
    expect((await h.attempts(first!.id)).map((a) => a.result)).toEqual([
      AttemptResult.NETWORK_ERROR,
      AttemptResult.NETWORK_ERROR,
      AttemptResult.NETWORK_ERROR,
      AttemptResult.DELIVERED,
      AttemptResult.DELIVERED,
    ]);
  });

  it("disables an endpoint that answers 410 Gone, cancels its messages and tells the merchant's other endpoints", async () => {
    const h = await harness({ endpointConcurrency: 1 });
    const gone = await receiverFor(() => ({ status: 410, body: "gone" }));
    const other = await receiverFor();
    const { endpoint } = await h.endpoints.create({
      merchantId: "mch_gone",
      url: gone.url,
      description: "",
      eventTypes: ["payout.updated"],
    });
    const { endpoint: watcher } = await h.endpoints.create({
      merchantId: "mch_gone",
      url: other.url,
      description: "",
      eventTypes: ["endpoint.disabled"],
    });
    await h.events.publish([event("mch_gone"), event("mch_gone"), event("mch_gone")]);
    await until(
      () => other.received.length > 0,
      () => h.loop.tick(),
    );
    const stored = await h.db.em().findOneOrFail(Endpoint, { id: endpoint.id });
    expect(stored).toMatchObject({ enabled: false, disabledReason: "the receiver answered 410 Gone" });
    const mine = (await h.messages()).filter((m) => m.endpointId === endpoint.id);
    expect(mine.map((m) => m.status)).toEqual([MessageStatus.DEAD, MessageStatus.DEAD, MessageStatus.DEAD]);
    // Messages claimed with the first one are cancelled as soon as it answers 410, without being sent.
    expect(gone.received).toHaveLength(1);
    const notice = JSON.parse(other.received[0]!.body);
    expect(notice).toMatchObject({ type: "endpoint.disabled", data: { endpointId: endpoint.id } });
    // The notice is about the disabled endpoint: its message can be listed by that endpoint's id.
    const about = (await h.messages()).filter((m) => m.subjectId === endpoint.id);
    expect(about.map((m) => m.endpointId)).toEqual([watcher.id]);
    // Nothing new is queued for it, and it counts on the gauge.
    expect(await h.events.publish([event("mch_gone")])).toEqual({ accepted: 1, queued: 0, handedOver: 0 });
    expect(metricValue(await h.registry.metrics(), "webhook_endpoints_disabled")).toBe(1);
  });

  it("waits as long as a 429's Retry-After asks", async () => {
    const h = await harness({ schedule: [0, 10, 10] });
    const receiver = await receiverFor((_req, n) =>
      n === 0 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 },
    );
    await h.endpoints.create({ merchantId: "mch_429", url: receiver.url, description: "", eventTypes: [] });
    await h.events.publish([event("mch_429")]);
    const started = Date.now();
    await h.loop.tick();
    const [message] = await h.messages();
    expect(message?.nextAttemptAt.getTime()).toBeGreaterThanOrEqual(started + 900);
    await until(
      () => receiver.received.length >= 2,
      () => h.loop.tick(),
    );
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect((await h.messages())[0]?.status).toBe(MessageStatus.DELIVERED);
  });

  it("disables an endpoint that has only failed for the configured period", async () => {
    let offset = 0;
    const h = await harness({
      schedule: [0, HOUR / 2, HOUR / 2, HOUR / 2],
      disableAfterMs: HOUR,
      clock: () => new Date(Date.now() + offset),
    });
    const failing = await receiverFor(() => ({ status: 500 }));
    const other = await receiverFor();
    const { endpoint } = await h.endpoints.create({
      merchantId: "mch_fail",
      url: failing.url,
      description: "",
      eventTypes: ["payout.updated"],
    });
    await h.endpoints.create({
      merchantId: "mch_fail",
      url: other.url,
      description: "",
      eventTypes: ["endpoint.disabled"],
    });
    await h.events.publish([event("mch_fail")]);
    await h.loop.tick();
    expect((await h.db.em().findOneOrFail(Endpoint, { id: endpoint.id })).enabled).toBe(true);
    offset = 2 * HOUR;
    await until(
      () => other.received.length > 0,
      () => h.loop.tick(),
    );
    const stored = await h.db.em().findOneOrFail(Endpoint, { id: endpoint.id });
    expect(stored.enabled).toBe(false);
    expect(stored.disabledReason).toMatch(/every attempt failed for 1 h/);
    expect(JSON.parse(other.received[0]!.body).data.endpointId).toBe(endpoint.id);
  });

  it("ends an endpoint's failure streak when a delivery to it succeeds", async () => {
    const h = await harness({ schedule: [0, 10, 10] });
    const flaky = await receiverFor((_req, n) => (n === 0 ? { status: 500 } : { status: 200 }));
    const { endpoint } = await h.endpoints.create({
      merchantId: "mch_flaky",
      url: flaky.url,
      description: "",
      eventTypes: [],
    });
    const failingSince = async () => (await h.db.em().findOneOrFail(Endpoint, { id: endpoint.id })).failingSince;
    await h.events.publish([event("mch_flaky")]);
    await h.loop.tick();
    expect(await failingSince()).toBeInstanceOf(Date);
    await until(
      async () => (await h.messages())[0]?.status === MessageStatus.DELIVERED,
      () => h.loop.tick(),
    );
    expect(flaky.received).toHaveLength(2);
    expect(await failingSince()).toBeNull();
  });

  it("keeps other endpoints fast while one receiver hangs", async () => {
    const h = await harness({ schedule: [0], timeoutMs: 3_000, concurrency: 8, endpointConcurrency: 2, batchSize: 8 });
    const slow = await receiverFor(() => "hang");
    const fast = await Promise.all([receiverFor(), receiverFor(), receiverFor()]);
    await h.endpoints.create({ merchantId: "mch_slow_ep", url: slow.url, description: "", eventTypes: [] });
    await h.endpoints.create({ merchantId: "mch_fast", url: fast[0]!.url, description: "", eventTypes: [] });
    await h.endpoints.create({ merchantId: "mch_fast2", url: fast[1]!.url, description: "", eventTypes: [] });
    await h.endpoints.create({ merchantId: "mch_fast3", url: fast[2]!.url, description: "", eventTypes: [] });
    // The slow endpoint's messages are published first, so they are due first.
    await h.events.publish(Array.from({ length: 20 }, () => event("mch_slow_ep")));
    await h.events.publish(
      ["mch_fast", "mch_fast2", "mch_fast3"].flatMap((m) => Array.from({ length: 20 }, () => event(m))),
    );
    const started = Date.now();
    h.loop.wake();
    await until(
      () => fast.every((r) => r.received.length >= 20),
      async () => undefined,
      10_000,
    );
    expect(Date.now() - started).toBeLessThan(2_500);
    // At most the endpoint's bound was ever in flight to the hanging receiver.
    expect(slow.received.length).toBe(2);
    await slow.close();
  });

  it("claims without deadlocks or double deliveries while several loops run and events keep coming", async () => {
    const errors: unknown[] = [];
    const spy = Object.create(logger, { error: { value: (...args: unknown[]) => errors.push(args) } }) as Logger;
    const h = await harness({ batchSize: 8, logger: spy });
    const receivers = await Promise.all([receiverFor(), receiverFor(), receiverFor()]);
    for (const r of receivers) {
      await h.endpoints.create({ merchantId: "mch_busy", url: r.url, description: "", eventTypes: [] });
    }
    const loops = [h.loop, h.makeLoop(), h.makeLoop(), h.makeLoop()];
    let publishing = true;
    const spin = Promise.all(
      loops.map(async (loop) => {
        while (publishing) await Promise.all([loop.tick(), new Promise((r) => setTimeout(r, 5))]);
      }),
    );
    const total = 10 * 15;
    for (let round = 0; round < 10; round++) {
      await Promise.all([
        h.events.publish(Array.from({ length: 10 }, () => event("mch_busy"))),
        h.events.publish(Array.from({ length: 5 }, () => event("mch_busy"))),
      ]);
    }
    await until(
      () => receivers.reduce((n, r) => n + r.received.length, 0) >= total * 3,
      async () => undefined,
      20_000,
    );
    publishing = false;
    await spin;
    await Promise.all(loops.map((loop) => loop.tick()));
    const ids = receivers.flatMap((r) => r.received.map((req) => String(req.headers["webhook-id"])));
    expect(ids).toHaveLength(total * 3);
    expect(new Set(ids).size).toBe(total * 3);
    expect(errors).toEqual([]);
    expect((await h.messages()).every((m) => m.status === MessageStatus.DELIVERED && m.attempts === 1)).toBe(true);
  });
});
