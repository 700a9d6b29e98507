import { defineEntity, p } from "@mikro-orm/core";

/** A merchant's webhook target. */
export const Endpoint = defineEntity({
  name: "Endpoint",
  tableName: "endpoints",
  properties: {
    id: p.string().length(40).primary(),
    merchantId: p.string().length(64).index(),
    url: p.string().length(2048),
    description: p.string().length(200),
    /** Comma-separated event types delivered here; empty means all. */
    eventTypes: p.string().length(2000),
    /** `whsec_…`; the notifier needs the key itself to sign, so it is kept, not hashed. */
    secret: p.string().length(100),
    /** During a rotation, the secret before the current one: it keeps signing until `previousSecretExpiresAt`. */
    previousSecret: p.string().length(100).nullable(),
    previousSecretExpiresAt: p.datetime().length(3).nullable(),
    enabled: p.boolean(),
    /** Why the platform disabled the endpoint (410 Gone, failing too long); null when it did not. */
    disabledReason: p.string().length(200).nullable(),
    /** Start of the current run of failed attempts; null once an attempt succeeds. */
    failingSince: p.datetime().length(3).nullable(),
    /** Soft delete: a deleted endpoint is invisible to its merchant and never called again. */
    deletedAt: p.datetime().length(3).nullable(),
    createdAt: p.datetime().length(3),
    updatedAt: p.datetime().length(3),
  },
});

/** An event as published, stored once per id. */
export const Event = defineEntity({
  name: "Event",
  tableName: "events",
  properties: {
    id: p.string().length(128).primary(),
    merchantId: p.string().length(64),
    type: p.string().length(100),
    /** The exact JSON body delivered to every endpoint. */
    payload: p.text(),
    occurredAt: p.datetime().length(3),
    createdAt: p.datetime().length(3),
  },
});

/** One event on its way to one endpoint; its id is the `webhook-id` of every attempt. */
export const Message = defineEntity({
  name: "Message",
  tableName: "messages",
  properties: {
    id: p.string().length(40).primary(),
    eventId: p.string().length(128),
    endpointId: p.string().length(40).index(),
    merchantId: p.string().length(64),
    /** The event's subject (the payout id for `payout.updated`); null when the event names none. */
    subjectId: p.string().length(64).nullable(),
    status: p.string().length(16),
    /** Attempts made so far. */
    attempts: p.integer(),
    /** When the message is next due. A claim pushes it to the lease's end, so an unfinished claim comes due again. */
    nextAttemptAt: p.datetime().length(3),
    /** End of the current claim's lease; null when no delivery is in flight. */
    lockedUntil: p.datetime().length(3).nullable(),
    /** Identifies the claim holding the lease; results of a stale claim do not change the message. */
    leaseToken: p.string().length(32).nullable(),
    deliveredAt: p.datetime().length(3).nullable(),
    createdAt: p.datetime().length(3),
    updatedAt: p.datetime().length(3),
  },
  uniques: [{ properties: ["eventId", "endpointId"] }],
  indexes: [
    { properties: ["status", "nextAttemptAt"] },
    { properties: ["merchantId", "createdAt"] },
    { properties: ["merchantId", "subjectId", "createdAt"] },
    { properties: ["status", "createdAt"] },
  ],
});

/** Append-only record of one HTTP attempt. */
export const Attempt = defineEntity({
  name: "Attempt",
  tableName: "attempts",
  properties: {
    id: p.bigint("bigint").primary().autoincrement(),
    messageId: p.string().length(40).index(),
    /** 1 for the first attempt of the message. */
    attempt: p.integer(),
    attemptedAt: p.datetime().length(3),
    result: p.string().length(16),
    statusCode: p.integer().nullable(),
    latencyMs: p.integer(),
    error: p.string().length(500).nullable(),
    /** The first 1 KiB of the response body. */
    responseExcerpt: p.text().nullable(),
  },
});

export const entities = [Endpoint, Event, Message, Attempt];
