import { randomBytes } from "node:crypto";
import { LockMode, raw } from "@mikro-orm/core";
import type { EntityManager } from "@mikro-orm/sql";
import type { Database } from "@mypay/kit";
import { type AttemptResult, MessageStatus, type NextState } from "../domain/delivery.ts";
import { Attempt, Endpoint, Event, Message } from "./entities.ts";

/** A message claimed for one attempt, with what is needed to send it. */
export interface ClaimedMessage {
  id: string;
  merchantId: string;
  endpointId: string;
  eventId: string;
  /** Attempts made before this one. */
  attempts: number;
  /** Undefined when the endpoint or event row is gone. */
  url: string | undefined;
  secret: string | undefined;
  payload: string | undefined;
}

export interface Claim {
  /** Identifies this claim's lease; only its holder's results change the messages. */
  token: string;
  messages: ClaimedMessage[];
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
  /** Dead-lettered after their last attempt. */
  dead: number;
}

const ERROR_LENGTH = 500;

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
   * Claims up to `limit` messages due at `now` for `leaseMs`. A claim whose results are never
   * recorded (the process died) comes due again when its lease ends.
   */
  async claimDue(limit: number, leaseMs: number, now = new Date()): Promise<Claim> {
    const token = randomBytes(12).toString("hex");
    const lockedUntil = new Date(now.getTime() + leaseMs);
    // MySQL/MariaDB: rows locked by another claimer are skipped, so claimers never wait on each other.
    // SQLite has one writer at a time; the conditional update below settles races between processes.
    const claimed =
      this.#db.kind === "sqlite"
        ? await this.#claim(this.#db.em(), false, token, limit, now, lockedUntil)
        : await this.#db.em().transactional((em) => this.#claim(em, true, token, limit, now, lockedUntil));
    if (claimed.length === 0) return { token, messages: [] };
    const em = this.#db.em();
    const [events, endpoints] = await Promise.all([
      em
        .createQueryBuilder(Event)
        .select(["id", "payload"])
        .where({ id: { $in: [...new Set(claimed.map((m) => m.eventId))] } })
        .execute("all"),
      em
        .createQueryBuilder(Endpoint)
        .select(["id", "url", "secret"])
        .where({ id: { $in: [...new Set(claimed.map((m) => m.endpointId))] } })
        .execute("all"),
    ]);
    const payloadOf = new Map(events.map((e) => [e.id, e.payload]));
    const endpointOf = new Map(endpoints.map((e) => [e.id, e]));
    return {
      token,
      messages: claimed.map((m) => ({
        ...m,
        url: endpointOf.get(m.endpointId)?.url,
        secret: endpointOf.get(m.endpointId)?.secret,
        payload: payloadOf.get(m.eventId),
      })),
    };
  }

  async #claim(
    em: EntityManager,
    lock: boolean,
    token: string,
    limit: number,
    now: Date,
    lockedUntil: Date,
  ): Promise<Array<Pick<ClaimedMessage, "id" | "merchantId" | "endpointId" | "eventId" | "attempts">>> {
    const due = { status: MessageStatus.PENDING, nextAttemptAt: { $lte: now } };
    const select = em
      .createQueryBuilder(Message)
      .select(["id", "merchantId", "endpointId", "eventId", "attempts"])
      .where(due)
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

  /**
   * Records a claim's attempts and the messages' new states in one transaction. Messages whose
   * lease was taken over by another claim keep their state; their attempts are still recorded.
   */
  async recordAttempts(token: string, records: readonly AttemptRecord[], now = new Date()): Promise<void> {
    if (records.length === 0) return;
    await this.#db.em().transactional(async (em) => {
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
        const ids = records.filter((r) => r.next.status === status).map((r) => r.message.id);
        if (ids.length === 0) continue;
        await em
          .createQueryBuilder(Message)
          .update({ ...released, status })
          .where({ id: { $in: ids }, leaseToken: token })
          .execute("run");
      }
      for (const r of records) {
        if (r.next.status !== MessageStatus.PENDING) continue;
        await em
          .createQueryBuilder(Message)
          .update({ ...released, nextAttemptAt: r.next.nextAttemptAt })
          .where({ id: r.message.id, leaseToken: token })
          .execute("run");
      }
    });
  }

  /** Messages pending and dead, for the queue gauges. */
  async queueDepth(): Promise<QueueDepth> {
    const rows = await this.#db
      .em()
      .createQueryBuilder(Message)
      .select(["status", raw("count(*) as n")])
      .where({ status: { $in: [MessageStatus.PENDING, MessageStatus.DEAD] } })
      .groupBy("status")
      .execute<Array<{ status: string; n: number | string }>>("all");
    const of = (status: string) => Number(rows.find((r) => r.status === status)?.n ?? 0);
    return { pending: of(MessageStatus.PENDING), dead: of(MessageStatus.DEAD) };
  }
}
