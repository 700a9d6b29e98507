import { type Client, Code, createClient, createRouterTransport } from "@connectrpc/connect";
import { createLogger, type Database, errorDetails, MERCHANT_HEADER, openDatabase, testStorage } from "@mypay/kit";
import { NotifierService, WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Resolver, TargetPolicy } from "./delivery/target-guard.ts";
import { secretKey } from "./domain/signature.ts";
import { MAX_EVENTS_PER_CALL, notifierService, webhookEndpointService } from "./service.ts";
import { EndpointStore } from "./store/endpoint-store.ts";
import { Endpoint, entities, Message } from "./store/entities.ts";
import { EventStore } from "./store/event-store.ts";
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
function clientWith(policy: TargetPolicy): Client<typeof NotifierService> & Client<typeof WebhookEndpointService> {
  const deps = {
    endpoints: new EndpointStore(db),
    events: new EventStore(db, [0]),
    policy,
    onQueued: () => queuedCalls++,
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
