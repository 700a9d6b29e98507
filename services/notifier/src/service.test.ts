import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { type Client, Code, createClient, createRouterTransport } from "@connectrpc/connect";
import {
  createLogger,
  type Database,
  errorDetails,
  MERCHANT_HEADER,
  openDatabase,
  Reason,
  testStorage,
} from "@mypay/kit";
import { MessageStatus, NotifierService, WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Resolver, TargetPolicy } from "./delivery/target-guard.ts";
import { secretKey } from "./domain/signature.ts";
import { MAX_EVENTS_PER_CALL, type NotifierDeps, notifierService, webhookEndpointService } from "./service.ts";
import { BacklogLimit } from "./store/backlog-limit.ts";
import { EndpointStore } from "./store/endpoint-store.ts";
import { Attempt, Endpoint, entities, Message } from "./store/entities.ts";
import { EventStore } from "./store/event-store.ts";
import { MessageStore } from "./store/message-store.ts";
import { migrations } from "./store/migrations/index.ts";

/** A fixed table: validation never asks a real DNS server. */
const resolve: Resolver = async (hostname) => {
  const table: Record<string, string> = { "hooks.example.com": "93.184.216.34", "intranet.example.com": "10.20.30.40" };
  const address = table[hostname];
  if (!address) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
  return [{ address, family: 4 }];
};

let db: Database;
let queuedCalls = 0;

/** One client for both notifier services, over an in-memory transport. */
function clientWith(
  policy: TargetPolicy,
  overrides: Partial<NotifierDeps> = {},
): Client<typeof NotifierService> & Client<typeof WebhookEndpointService> {
  const deps: NotifierDeps = {
    endpoints: new EndpointStore(db),
    events: new EventStore(db, [0]),
    messages: new MessageStore(db),
    backlog: new BacklogLimit(async () => 0, 1_000_000),
    policy,
    metrics: { observeReplays: () => undefined },
    secretGraceMs: 86_400_000,
    onQueued: () => {
      queuedCalls++;
    },
    ...overrides,
  };
  const transport = createRouterTransport((router) => {
    router.service(NotifierService, notifierService(deps));
    router.service(WebhookEndpointService, webhookEndpointService(deps));
  });
  return { ...createClient(NotifierService, transport), ...createClient(WebhookEndpointService, transport) };
}

beforeAll(async () => {
  db = await openDatabase({
    service: "notifier",
    settings: testStorage(),
    entities,
    migrations,
    logger: createLogger("notifier-test", "silent"),
  });
});

afterAll(async () => {
  if (db.kind !== "sqlite") await db.orm.schema.dropDatabase();
  await db.close();
});

const as = (merchantId: string) => ({ headers: { [MERCHANT_HEADER]: merchantId } });

async function failure(call: Promise<unknown>) {
  try {
    await call;
  } catch (err) {
    return errorDetails(err);
  }
  throw new Error("expected the call to fail");
}

describe("CreateEndpoint", () => {
  it("registers an endpoint for the calling merchant and shows the secret once", async () => {
    const client = clientWith({ allowLoopback: true, resolve });
    const res = await client.createEndpoint(
      { url: "https://HOOKS.example.com/mypay", description: "prod", eventTypes: ["payout.updated", "payout.updated"] },
      as("mch_svc"),
    );
    expect(res.endpoint).toMatchObject({
      merchantId: "mch_svc",
      url: "https://hooks.example.com/mypay",
      description: "prod",
      eventTypes: ["payout.updated"],
      enabled: true,
    });
    expect(res.endpoint?.id).toMatch(/^ep_[A-Za-z0-9]{22}$/);
    expect(res.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(secretKey(res.secret)).toHaveLength(32);
    const stored = await db.em().findOneOrFail(Endpoint, { id: res.endpoint!.id });
    expect(stored.secret).toBe(res.secret);

    const loopback = await client.createEndpoint(
      { url: "http://127.0.0.1:9/h", description: "", eventTypes: [] },
      as("mch_svc"),
    );
    expect(loopback.endpoint?.url).toBe("http://127.0.0.1:9/h");
  });

  it("requires the merchant header", async () => {
    const client = clientWith({ allowLoopback: true, resolve });
    const err = await failure(
      client.createEndpoint({ url: "https://hooks.example.com/", description: "", eventTypes: [] }),
    );
    expect(err.code).toBe(Code.Unauthenticated);
    expect(err.reason).toBe("UNAUTHENTICATED");
  });

  it.each([
    ["http://10.0.0.1/hook", /private/],
    ["http://169.254.169.254/latest/meta-data/", /link-local/],
    ["http://172.16.0.1/", /private/],
    ["http://192.168.1.1/", /private/],
    ["http://[fc00::1]/", /private/],
    ["https://intranet.example.com/", /private/],
    ["https://unknown.example.com/", /does not resolve/],
    ["ftp://hooks.example.com/", /http or https/],
    ["https://user:pw@hooks.example.com/", /credentials/],
    [`https://hooks.example.com/${"p".repeat(2040)}`, /2048/],
    ["", /required/],
  ])("refuses %j", async (url, message) => {
    const client = clientWith({ allowLoopback: true, resolve });
    const err = await failure(client.createEndpoint({ url, description: "", eventTypes: [] }, as("mch_svc")));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.field).toBe("url");
    expect(err.message).toMatch(message);
  });

  it("refuses loopback targets when the sandbox does not allow them", async () => {
    const client = clientWith({ allowLoopback: false, resolve });
    for (const url of ["http://127.0.0.1:8080/h", "http://[::1]/h", "http://2130706433/"]) {
      const err = await failure(client.createEndpoint({ url, description: "", eventTypes: [] }, as("mch_svc")));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.message).toMatch(/loopback/);
    }
  });

  it("validates the description and event types", async () => {
    const client = clientWith({ allowLoopback: true, resolve });
    const url = "https://hooks.example.com/";
    expect((await failure(client.createEndpoint({ url, description: "d".repeat(201) }, as("m")))).field).toBe(
      "description",
    );
    expect((await failure(client.createEndpoint({ url, eventTypes: ["a,b"] }, as("m")))).field).toBe("eventTypes[0]");
  });
});

describe("Publish", () => {
  const validEvent = (id: string) => ({
    id,
    type: "payout.updated",
    merchantId: "mch_pub",
    payloadJson: JSON.stringify({ type: "payout.updated", payoutId: id }),
  });

  it("stores new events once, queues messages and wakes the delivery loop", async () => {
    const client = clientWith({ allowLoopback: true, resolve });
    await client.createEndpoint({ url: "https://hooks.example.com/pub", eventTypes: [] }, as("mch_pub"));
    const before = queuedCalls;
    const id = `evt_svc_${Date.now()}`;
    expect((await client.publish({ events: [validEvent(id), validEvent(`${id}_2`)] })).accepted).toBe(2);
    expect(queuedCalls).toBe(before + 1);
    expect((await client.publish({ events: [validEvent(id)] })).accepted).toBe(0);
    expect(queuedCalls).toBe(before + 1);
    expect(await db.em().count(Message, { eventId: id })).toBe(1);
  });

  it.each([
    [{ payloadJson: "{not json" }, "events[0].payloadJson"],
    [{ payloadJson: "" }, "events[0].payloadJson"],
    [{ payloadJson: JSON.stringify({ a: "x".repeat(70_000) }) }, "events[0].payloadJson"],
    [{ id: "" }, "events[0].id"],
    [{ id: "i".repeat(129) }, "events[0].id"],
    [{ type: "" }, "events[0].type"],
    [{ type: "has space" }, "events[0].type"],
    [{ merchantId: "" }, "events[0].merchantId"],
    [{ subjectId: "s".repeat(65) }, "events[0].subjectId"],
    [{ subjectId: "po_1 OR 1=1" }, "events[0].subjectId"],
  ])("refuses an event with %j", async (override, field) => {
    const client = clientWith({ allowLoopback: true, resolve });
    const err = await failure(client.publish({ events: [{ ...validEvent("evt_bad"), ...override }] }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.field).toBe(field);
  });

  it("bounds the events per call", async () => {
    const client = clientWith({ allowLoopback: true, resolve });
    const events = Array.from({ length: MAX_EVENTS_PER_CALL + 1 }, (_, i) => validEvent(`evt_many_${i}`));
    expect((await failure(client.publish({ events }))).field).toBe("events");
  });
});

describe("endpoint management", () => {
  const client = () => clientWith({ allowLoopback: true, resolve });
  const url = "https://hooks.example.com/manage";

  it("gets, lists page by page, updates and deletes the caller's endpoints", async () => {
    const c = client();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { endpoint } = await c.createEndpoint({ url: `${url}/${i}`, description: `n${i}` }, as("mch_mgmt"));
      ids.push(endpoint!.id);
    }
    expect((await c.getEndpoint({ id: ids[0] }, as("mch_mgmt"))).endpoint).toMatchObject({ url: `${url}/0` });

    const seen: string[] = [];
    let startingAfter = "";
    for (;;) {
      const page = await c.listEndpoints({ page: { limit: 2, startingAfter } }, as("mch_mgmt"));
      seen.push(...page.endpoints.map((e) => e.id));
      if (!page.hasMore) break;
      startingAfter = page.endpoints.at(-1)!.id;
    }
    expect(seen).toEqual(ids);

    const updated = await c.updateEndpoint(
      {
        id: ids[1],
        updateMask: ["description", "event_types"],
        description: "changed",
        eventTypes: ["payout.updated"],
        url: "ignored",
      },
      as("mch_mgmt"),
    );
    expect(updated.endpoint).toMatchObject({ url: `${url}/1`, description: "changed", eventTypes: ["payout.updated"] });
    // The URL is validated like a new one.
    const refused = await failure(
      c.updateEndpoint({ id: ids[1], updateMask: ["url"], url: "http://10.1.2.3/x" }, as("mch_mgmt")),
    );
    expect(refused).toMatchObject({ code: Code.InvalidArgument, field: "url" });
    expect((await failure(c.updateEndpoint({ id: ids[1], updateMask: ["secret"] }, as("mch_mgmt")))).field).toBe(
      "updateMask[0]",
    );
    const moved = await c.updateEndpoint({ id: ids[1], updateMask: ["url"], url: `${url}/moved` }, as("mch_mgmt"));
    expect(moved.endpoint?.url).toBe(`${url}/moved`);
    const disabled = await c.updateEndpoint({ id: ids[1], updateMask: ["enabled"], enabled: false }, as("mch_mgmt"));
    expect(disabled.endpoint?.enabled).toBe(false);

    await c.deleteEndpoint({ id: ids[2] }, as("mch_mgmt"));
    expect((await failure(c.getEndpoint({ id: ids[2] }, as("mch_mgmt")))).code).toBe(Code.NotFound);
    expect((await failure(c.deleteEndpoint({ id: ids[2] }, as("mch_mgmt")))).code).toBe(Code.NotFound);
    const rest = await c.listEndpoints({}, as("mch_mgmt"));
    expect(rest.endpoints.map((e) => e.id)).toEqual([ids[0], ids[1], ids[3], ids[4]]);
  });

  it("rotates a secret and says until when the old one signs", async () => {
    const c = client();
    const { endpoint, secret } = await c.createEndpoint({ url }, as("mch_rotate"));
    const before = Date.now();
    const rotated = await c.rotateSecret({ id: endpoint!.id }, as("mch_rotate"));
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(secret);
    expect(secretKey(rotated.secret).length).toBeGreaterThanOrEqual(24);
    const expires = Number(rotated.previousSecretExpiresAt!.seconds) * 1000;
    expect(expires - before).toBeGreaterThan(86_400_000 - 5_000);
    expect(expires - before).toBeLessThan(86_400_000 + 5_000);
    const stored = await db.em().findOneOrFail(Endpoint, { id: endpoint!.id });
    expect(stored).toMatchObject({ secret: rotated.secret, previousSecret: secret });
  });

  it("answers NOT_FOUND for another merchant's endpoints and messages", async () => {
    const c = client();
    const { endpoint } = await c.createEndpoint({ url }, as("mch_owner"));
    const id = endpoint!.id;
    await c.publish({
      events: [{ id: `evt_tenant_${Date.now()}`, type: "payout.updated", merchantId: "mch_owner", payloadJson: "{}" }],
    });
    const [message] = (await c.listMessages({ endpointId: id }, as("mch_owner"))).messages;
    expect(message?.endpointId).toBe(id);
    const intruder = as("mch_intruder");
    const calls = [
      () => c.getEndpoint({ id }, intruder),
      () => c.updateEndpoint({ id, updateMask: ["description"], description: "x" }, intruder),
      () => c.deleteEndpoint({ id }, intruder),
      () => c.rotateSecret({ id }, intruder),
      () => c.listMessages({ endpointId: id }, intruder),
      () => c.listAttempts({ messageId: message!.id }, intruder),
      () => c.replayMessage({ messageId: message!.id }, intruder),
    ];
    for (const call of calls) expect((await failure(call())).code).toBe(Code.NotFound);
    expect((await c.listMessages({}, intruder)).messages).toEqual([]);
    expect((await c.listEndpoints({}, intruder)).endpoints).toEqual([]);
    expect((await c.getEndpoint({ id }, as("mch_owner"))).endpoint?.description).toBe("");
  });

  it("checks paging arguments", async () => {
    const c = client();
    expect((await failure(c.listEndpoints({ page: { limit: 101 } }, as("mch_page")))).field).toBe("page.limit");
    expect((await failure(c.listEndpoints({ page: { startingAfter: "ep_nope" } }, as("mch_page")))).field).toBe(
      "page.startingAfter",
    );
  });
});

describe("messages and replays", () => {
  it("lists messages by endpoint and status, their attempts, and replays them", async () => {
    const c = clientWith({ allowLoopback: true, resolve });
    const merchant = as("mch_msgs");
    const a = (await c.createEndpoint({ url: "https://hooks.example.com/a" }, merchant)).endpoint!;
    const b = (await c.createEndpoint({ url: "https://hooks.example.com/b" }, merchant)).endpoint!;
    const stamp = Date.now();
    await c.publish({
      events: [0, 1, 2].map((i) => ({
        id: `evt_msgs_${stamp}_${i}`,
        type: "payout.updated",
        merchantId: "mch_msgs",
        payloadJson: "{}",
      })),
    });
    const all = await c.listMessages({ page: { limit: 4 } }, merchant);
    expect(all.messages).toHaveLength(4);
    expect(all.hasMore).toBe(true);
    const next = await c.listMessages({ page: { limit: 4, startingAfter: all.messages[3]!.id } }, merchant);
    expect(next.messages).toHaveLength(2);
    expect(new Set([...all.messages, ...next.messages].map((m) => m.id)).size).toBe(6);
    expect(all.messages[0]).toMatchObject({ eventType: "payout.updated", status: MessageStatus.PENDING });

    const ofA = (await c.listMessages({ endpointId: a.id }, merchant)).messages;
    expect(ofA).toHaveLength(3);
    const [dead, delivered] = ofA;
    await db.em().nativeUpdate(Message, { id: dead!.id }, { status: "DEAD", attempts: 8 });
    await db.em().nativeUpdate(Message, { id: delivered!.id }, { status: "DELIVERED", attempts: 1 });
    await db.em().insert(Attempt, {
      messageId: dead!.id,
      attempt: 1,
      attemptedAt: new Date(),
      result: "http_error",
      statusCode: 500,
      latencyMs: 12,
      error: "HTTP 500",
      responseExcerpt: "boom",
    });
    const deadOnly = await c.listMessages({ status: MessageStatus.DEAD }, merchant);
    expect(deadOnly.messages.map((m) => m.id)).toEqual([dead!.id]);
    const attempts = await c.listAttempts({ messageId: dead!.id }, merchant);
    expect(attempts.attempts[0]).toMatchObject({ result: "http_error", statusCode: 500, responseExcerpt: "boom" });

    const letters = await c.listDeadLetters({ merchantId: "mch_msgs" });
    expect(letters.messages.map((m) => m.id)).toEqual([dead!.id]);
    expect((await c.listDeadLetters({})).messages.map((m) => m.id)).toContain(dead!.id);

    const before = queuedCalls;
    const replayed = await c.replayMessage({ messageId: dead!.id }, merchant);
    expect(replayed.message).toMatchObject({ id: dead!.id, status: MessageStatus.PENDING, attempts: 8 });
    expect(queuedCalls).toBe(before + 1);
    const again = await c.replayMessage({ messageId: delivered!.id }, merchant);
    expect(again.message?.status).toBe(MessageStatus.PENDING);

    // Deleting an endpoint cancels its pending messages; they cannot be replayed to it.
    await c.deleteEndpoint({ id: b.id }, merchant);
    const ofB = await db.em().find(Message, { endpointId: b.id });
    expect(ofB.map((m) => m.status)).toEqual(["DEAD", "DEAD", "DEAD"]);
    const refused = await failure(c.replayMessage({ messageId: ofB[0]!.id }, merchant));
    expect(refused).toMatchObject({ code: Code.FailedPrecondition, reason: Reason.ENDPOINT_DISABLED });
    const since = timestampFromDate(new Date(stamp - 60_000));
    // Bulk replay takes dead messages and those waiting for a retry, not those of deleted endpoints.
    await db.em().nativeUpdate(Message, { id: delivered!.id }, { status: "DELIVERED" });
    await db.em().nativeUpdate(Message, { id: dead!.id }, { status: "DEAD" });
    expect((await c.replayMyFailed({ since }, merchant)).requeued).toBe(1);
    expect((await db.em().findOneOrFail(Message, { id: dead!.id })).status).toBe("PENDING");
    await db.em().nativeUpdate(Message, { id: dead!.id }, { status: "DEAD" });
    expect((await c.replayFailed({ merchantId: "mch_msgs", since })).requeued).toBe(1);
    expect((await failure(c.replayMyFailed({}, merchant))).field).toBe("since");
  });

  it("lists the messages of one subject, only the caller's: another merchant's id for it matches nothing", async () => {
    const c = clientWith({ allowLoopback: true, resolve });
    const stamp = Date.now();
    // Two merchants, each with an event about an object of the same id (ids are not global).
    const subject = `po_subject_${stamp}`;
    for (const merchantId of ["mch_subj_a", "mch_subj_b"]) {
      await c.createEndpoint({ url: "https://hooks.example.com/one" }, as(merchantId));
      await c.createEndpoint({ url: "https://hooks.example.com/two" }, as(merchantId));
    }
    const event = (merchantId: string, n: number, subjectId: string) => ({
      id: `evt_subj_${stamp}_${merchantId}_${n}`,
      type: "payout.updated",
      merchantId,
      subjectId,
      payloadJson: "{}",
    });
    await c.publish({
      events: [
        event("mch_subj_a", 1, subject),
        event("mch_subj_a", 2, `po_other_${stamp}`),
        event("mch_subj_a", 3, subject),
        event("mch_subj_a", 4, ""),
        event("mch_subj_b", 1, subject),
      ],
    });
    const ofA = (await c.listMessages({ subjectId: subject }, as("mch_subj_a"))).messages;
    expect(ofA).toHaveLength(4); // two events × two endpoints
    for (const m of ofA) expect(m).toMatchObject({ subjectId: subject, merchantId: "mch_subj_a" });
    expect(new Set(ofA.map((m) => m.eventId))).toEqual(
      new Set([`evt_subj_${stamp}_mch_subj_a_1`, `evt_subj_${stamp}_mch_subj_a_3`]),
    );
    const ofB = (await c.listMessages({ subjectId: subject }, as("mch_subj_b"))).messages;
    expect(ofB.map((m) => m.eventId)).toEqual([`evt_subj_${stamp}_mch_subj_b_1`, `evt_subj_${stamp}_mch_subj_b_1`]);
    expect((await c.listMessages({ subjectId: subject }, as("mch_subj_intruder"))).messages).toEqual([]);
    // The filter pages like the unfiltered list and combines with the other filters.
    const first = await c.listMessages({ subjectId: subject, page: { limit: 3 } }, as("mch_subj_a"));
    const rest = await c.listMessages(
      { subjectId: subject, page: { limit: 3, startingAfter: first.messages[2]!.id } },
      as("mch_subj_a"),
    );
    expect([first.hasMore, rest.hasMore, rest.messages.length]).toEqual([true, false, 1]);
    expect([...first.messages, ...rest.messages].map((m) => m.id)).toEqual(ofA.map((m) => m.id));
    const endpointId = ofA[0]!.endpointId;
    const oneEndpoint = await c.listMessages({ subjectId: subject, endpointId }, as("mch_subj_a"));
    expect(oneEndpoint.messages.map((m) => m.endpointId)).toEqual([endpointId, endpointId]);
    expect(
      (await c.listMessages({ subjectId: subject, status: MessageStatus.DEAD }, as("mch_subj_a"))).messages,
    ).toEqual([]);
    // An event without a subject is listed unfiltered, with an empty subject id.
    const all = (await c.listMessages({ page: { limit: 100 } }, as("mch_subj_a"))).messages;
    expect(all.filter((m) => m.subjectId === "").map((m) => m.eventId)).toEqual([
      `evt_subj_${stamp}_mch_subj_a_4`,
      `evt_subj_${stamp}_mch_subj_a_4`,
    ]);
    for (const bad of ["s".repeat(65), "po_?", "po_1%"]) {
      expect((await failure(c.listMessages({ subjectId: bad }, as("mch_subj_a")))).field).toBe("subjectId");
    }
  });

  it("refuses new events with RESOURCE_EXHAUSTED past the backlog bound", async () => {
    let pending = 10;
    const c = clientWith({ allowLoopback: true, resolve }, { backlog: new BacklogLimit(async () => pending, 10, 0) });
    const err = await failure(
      c.publish({
        events: [{ id: `evt_full_${Date.now()}`, type: "payout.updated", merchantId: "m", payloadJson: "{}" }],
      }),
    );
    expect(err).toMatchObject({ code: Code.ResourceExhausted, reason: Reason.BACKLOG_FULL });
    pending = 9;
    const ok = await c.publish({
      events: [{ id: `evt_room_${Date.now()}`, type: "payout.updated", merchantId: "m", payloadJson: "{}" }],
    });
    expect(ok.accepted).toBe(1);
  });
});
