import { randomBytes } from "node:crypto";
import { IsolationLevel, LockMode, raw } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/sql";
import type { Database } from "@mypay/kit";
import { type AttemptResult, MessageStatus, type NextState } from "../domain/delivery.ts";
import { asDate, cancelPending } from "./endpoint-store.ts";
import { Attempt, Endpoint, Event, Message } from "./entities.ts";

/** A message claimed for one attempt, with what is needed to send it. */
export interface ClaimedMessage {
  id: string;
  merchantId: string;
  endpointId: string;
  eventId: string;
  /** Attempts made before this one. */
  attempts: number;
  /** The claim holding the message's lease; only its results change the message. */
  token: string;
  /** False when the endpoint is gone, deleted or disabled: the message is cancelled, not sent. */
  active: boolean;
  url: string | undefined;
  secret: string | undefined;
  /** The secret before a rotation, and until when it keeps signing. */
  previousSecret: string | undefined;
  previousSecretExpiresAt: Date | undefined;
  /** Undefined when the event row is gone. */
  payload: string | undefined;
}

export interface AttemptRecord {
  message: ClaimedMessage;
  attemptedAt: Date;
  result: AttemptResult;
  statusCode: number | undefined;
  latencyMs: number;
  error: string | undefined;
  responseExcerpt: string | undefined;
  next: NextState;
}

export interface QueueDepth {
  /** Waiting for their next attempt or in flight. */
  pending: number;
  /** Dead-lettered after their last attempt (or cancelled). */
  dead: number;
  /** Endpoints the platform disabled (410 Gone, failing too long) and nobody enabled again. */
  disabledEndpoints: number;
}

/** An endpoint the platform disabled while recording attempts. */
export interface DisabledEndpoint {
  id: string;
  merchantId: string;
  reason: string;
}

export interface RecordOptions {
  /** An endpoint whose every attempt failed for this long is disabled. */
  disableAfterMs: number;
}

const ERROR_LENGTH = 500;
const GONE_REASON = "the receiver answered 410 Gone";

/**
 * Claims due messages for delivery and records the outcomes. Several notifier processes may
 * share one database: a message is claimed by at most one of them at a time.
 */
export class DeliveryStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Claims up to `limit` messages due at `now` for `leaseMs`, skipping those of the endpoints in
   * `skipEndpoints` (already at their concurrency bound here). A claim whose results are never
   * recorded (the process died) comes due again when its lease ends.
   */
  async claimDue(
    limit: number,
    leaseMs: number,
    now = new Date(),
    skipEndpoints: readonly string[] = [],
  ): Promise<ClaimedMessage[]> {
    const token = randomBytes(12).toString("hex");
    const lockedUntil = new Date(now.getTime() + leaseMs);
    const claim = (em: EntityManager, lock: boolean) =>
      this.#claim(em, lock, token, limit, now, lockedUntil, skipEndpoints);
    // MySQL/MariaDB: rows locked by another claimer are skipped, so claimers never wait on each other;
    // READ COMMITTED takes no gap locks, so claimers and concurrent Publish inserts do not deadlock.
    // SQLite has one writer at a time; the conditional update settles races between processes.
    const claimed =
      this.#db.kind === "sqlite"
        ? await claim(this.#db.em(), false)
        : await this.#db.em().transactional((em) => claim(em, true), { isolationLevel: IsolationLevel.READ_COMMITTED });
    if (claimed.length === 0) return [];
    const em = this.#db.em();
    const [events, endpoints] = await Promise.all([
      em
        .createQueryBuilder(Event)
        .select(["id", "payload"])
        .where({ id: { $in: [...new Set(claimed.map((m) => m.eventId))] } })
        .execute("all"),
      em
        .createQueryBuilder(Endpoint)
        .select(["id", "url", "secret", "previousSecret", "previousSecretExpiresAt", "enabled", "deletedAt"])
        .where({ id: { $in: [...new Set(claimed.map((m) => m.endpointId))] } })
        .execute("all"),
    ]);
    const payloadOf = new Map(events.map((e) => [e.id, e.payload]));
    const endpointOf = new Map(endpoints.map((e) => [e.id, e]));
    return claimed.map((m) => {
      const endpoint = endpointOf.get(m.endpointId);
      return {
        ...m,
        token,
        active: endpoint !== undefined && Boolean(endpoint.enabled) && endpoint.deletedAt == null,
        url: endpoint?.url,
        secret: endpoint?.secret,
        previousSecret: endpoint?.previousSecret ?? undefined,
        previousSecretExpiresAt:
          endpoint?.previousSecretExpiresAt == null ? undefined : asDate(endpoint.previousSecretExpiresAt),
        payload: payloadOf.get(m.eventId),
      };
    });
  }

  async #claim(
    em: EntityManager,
    lock: boolean,
    token: string,
    limit: number,
    now: Date,
    lockedUntil: Date,
    skipEndpoints: readonly string[],
  ): Promise<Array<Pick<ClaimedMessage, "id" | "merchantId" | "endpointId" | "eventId" | "attempts">>> {
    const due = { status: MessageStatus.PENDING, nextAttemptAt: { $lte: now } };
    const where = skipEndpoints.length > 0 ? { ...due, endpointId: { $nin: [...skipEndpoints] } } : due;
    const select = em
      .createQueryBuilder(Message)
      .select(["id", "merchantId", "endpointId", "eventId", "attempts"])
      .where(where)
      .orderBy({ nextAttemptAt: "asc" })
      .limit(limit);
    if (lock) select.setLockMode(LockMode.PESSIMISTIC_PARTIAL_WRITE);
    const rows = await select.execute("all");
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    // Moving nextAttemptAt to the lease's end takes the rows out of every other claimer's "due" set.
    const updated = await em
      .createQueryBuilder(Message)
      .update({ leaseToken: token, lockedUntil, nextAttemptAt: lockedUntil, updatedAt: now })
      .where({ id: { $in: ids }, ...due })
      .execute("run");
    if (updated.affectedRows === rows.length) return rows;
    const won = await em
      .createQueryBuilder(Message)
      .select(["id"])
      .where({ id: { $in: ids }, leaseToken: token })
      .execute("all");
    const mine = new Set(won.map((r) => r.id));
    return rows.filter((r) => mine.has(r.id));
  }

  /** Hands claimed messages back unattempted, due at once (for another claim or process). */
  async release(messages: readonly ClaimedMessage[], now = new Date()): Promise<void> {
    for (const [token, ids] of groupBy(
      messages,
      (m) => m.token,
      (m) => m.id,
    )) {
      await this.#db
        .em()
        .createQueryBuilder(Message)
        .update({ leaseToken: null, lockedUntil: null, nextAttemptAt: now, updatedAt: now })
        .where({ id: { $in: ids }, leaseToken: token })
        .execute("run");
    }
  }

  /** Cancels claimed messages whose endpoint is no longer active: DEAD, without an attempt. */
  async cancel(messages: readonly ClaimedMessage[], now = new Date()): Promise<void> {
    for (const [token, ids] of groupBy(
      messages,
      (m) => m.token,
      (m) => m.id,
    )) {
      await this.#db
        .em()
        .createQueryBuilder(Message)
        .update({ status: MessageStatus.DEAD, leaseToken: null, lockedUntil: null, updatedAt: now })
        .where({ id: { $in: ids }, leaseToken: token })
        .execute("run");
    }
  }

  /**
   * Records attempts and the messages' new states in one transaction, with the endpoints' health:
   * a success ends an endpoint's failure streak; a 410 Gone, or failing for `disableAfterMs`,
   * disables it and cancels its pending messages. Messages whose lease was taken over by another
   * claim keep their state; their attempts are still recorded. Returns the endpoints disabled now.
   */
  async recordAttempts(
    records: readonly AttemptRecord[],
    options: RecordOptions,
    now = new Date(),
  ): Promise<DisabledEndpoint[]> {
    if (records.length === 0) return [];
    // READ COMMITTED: updates lock only the rows they change, so replicas recording at once do not
    // wait on each other's endpoint and message index ranges.
    const isolation = this.#db.kind === "sqlite" ? {} : { isolationLevel: IsolationLevel.READ_COMMITTED };
    return this.#db.em().transactional(async (em) => {
      await em
        .createQueryBuilder(Attempt)
        .insert(
          records.map((r) => ({
            messageId: r.message.id,
            attempt: r.message.attempts + 1,
            attemptedAt: r.attemptedAt,
            result: r.result,
            statusCode: r.statusCode ?? null,
            latencyMs: r.latencyMs,
            error: r.error === undefined ? null : r.error.slice(0, ERROR_LENGTH),
            responseExcerpt: r.responseExcerpt ?? null,
          })),
        )
        .execute("run");
      const released = { leaseToken: null, lockedUntil: null, updatedAt: now, attempts: raw("attempts + 1") };
      for (const status of [MessageStatus.DELIVERED, MessageStatus.DEAD] as const) {
        const final = records.filter((r) => r.next.status === status);
        for (const [token, ids] of groupBy(
          final,
          (r) => r.message.token,
          (r) => r.message.id,
        )) {
          const set =
            status === MessageStatus.DELIVERED ? { ...released, status, deliveredAt: now } : { ...released, status };
          await em
            .createQueryBuilder(Message)
            .update(set)
            .where({ id: { $in: ids }, leaseToken: token })
            .execute("run");
        }
      }
      for (const r of records) {
        if (r.next.status !== MessageStatus.PENDING) continue;
        await em
          .createQueryBuilder(Message)
          .update({ ...released, nextAttemptAt: r.next.nextAttemptAt })
          .where({ id: r.message.id, leaseToken: r.message.token })
          .execute("run");
      }
      return this.#recordHealth(em, records, options, now);
    }, isolation);
  }

  async #recordHealth(
    em: EntityManager,
    records: readonly AttemptRecord[],
    options: RecordOptions,
    now: Date,
  ): Promise<DisabledEndpoint[]> {
    const succeeded = new Set(
      records.filter((r) => r.next.status === MessageStatus.DELIVERED).map((r) => r.message.endpointId),
    );
    const gone = new Set(records.filter((r) => r.statusCode === 410).map((r) => r.message.endpointId));
    // Read first and write only what changes: a healthy endpoint's row is not touched (nor locked).
    const endpoints = await em
      .createQueryBuilder(Endpoint)
      .select(["id", "merchantId", "failingSince", "enabled", "deletedAt"])
      .where({ id: { $in: [...new Set(records.map((r) => r.message.endpointId))] } })
      .execute("all");
    const recovered = endpoints.filter((e) => succeeded.has(e.id) && e.failingSince != null).map((e) => e.id);
    const failing = endpoints.filter((e) => !succeeded.has(e.id));
    const starting = failing.filter((e) => e.failingSince == null).map((e) => e.id);
    if (recovered.length > 0) {
      await em
        .createQueryBuilder(Endpoint)
        .update({ failingSince: null })
        .where({ id: { $in: recovered } })
        .execute("run");
    }
    if (starting.length > 0) {
      await em
        .createQueryBuilder(Endpoint)
        .update({ failingSince: now })
        .where({ id: { $in: starting }, failingSince: null })
        .execute("run");
    }
    const cutoff = new Date(now.getTime() - options.disableAfterMs);
    const hours = Math.round((options.disableAfterMs / 3_600_000) * 100) / 100;
    const disabled: DisabledEndpoint[] = [];
    for (const endpoint of failing) {
      if (!endpoint.enabled || endpoint.deletedAt != null) continue;
      const since = endpoint.failingSince == null ? now : asDate(endpoint.failingSince);
      let reason: string | undefined;
      if (gone.has(endpoint.id)) reason = GONE_REASON;
      else if (since <= cutoff) reason = `every attempt failed for ${hours} h (since ${since.toISOString()})`;
      if (!reason) continue;
      const result = await em
        .createQueryBuilder(Endpoint)
        .update({ enabled: false, disabledReason: reason, updatedAt: now })
        .where({ id: endpoint.id, enabled: true })
        .execute("run");
      if (result.affectedRows === 1) disabled.push({ id: endpoint.id, merchantId: endpoint.merchantId, reason });
    }
    await cancelPending(
      em,
      disabled.map((d) => d.id),
      now,
    );
    return disabled;
  }

  /** Messages pending and dead, and platform-disabled endpoints, for the gauges. */
  async queueDepth(): Promise<QueueDepth> {
    const em = this.#db.em();
    const [rows, [disabled]] = await Promise.all([
      em
        .createQueryBuilder(Message)
        .select(["status", raw("count(*) as n")])
        .where({ status: { $in: [MessageStatus.PENDING, MessageStatus.DEAD] } })
        .groupBy("status")
        .execute<Array<{ status: string; n: number | string }>>("all"),
      em
        .createQueryBuilder(Endpoint)
        .select([raw("count(*) as n")])
        .where({ enabled: false, disabledReason: { $ne: null }, deletedAt: null })
        .execute<Array<{ n: number | string }>>("all"),
    ]);
    const of = (status: string) => Number(rows.find((r) => r.status === status)?.n ?? 0);
    return {
      pending: of(MessageStatus.PENDING),
      dead: of(MessageStatus.DEAD),
      disabledEndpoints: Number(disabled?.n ?? 0),
    };
  }

  /** Messages waiting or in flight: what the backlog bound counts. */
  async pendingCount(): Promise<number> {
    const [row] = await this.#db
      .em()
      .createQueryBuilder(Message)
      .select([raw("count(*) as n")])
      .where({ status: MessageStatus.PENDING })
      .execute<Array<{ n: number | string }>>("all");
    return Number(row?.n ?? 0);
  }
}

/** Groups `items` by `key`, collecting `value`s. */
function groupBy<T>(items: readonly T[], key: (item: T) => string, value: (item: T) => string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const item of items) {
    const list = groups.get(key(item));
    if (list) list.push(value(item));
    else groups.set(key(item), [value(item)]);
  }
  return groups;
}
