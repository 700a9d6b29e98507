import type { EntityManager } from "@mikro-orm/sql";
import type { Database } from "@mypay/kit";
import { MessageStatus } from "../domain/delivery.ts";
import { asDate } from "./endpoint-store.ts";
import { Attempt, Endpoint, Event, Message } from "./entities.ts";
import { type Page, pageOf } from "./paging.ts";

export interface MessageView {
  id: string;
  merchantId: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  subjectId: string | undefined;
  status: MessageStatus;
  attempts: number;
  /** When the next attempt is due; meaningful while PENDING. */
  nextAttemptAt: Date;
  createdAt: Date;
  deliveredAt: Date | undefined;
}

export interface AttemptView {
  id: string;
  messageId: string;
  attemptedAt: Date;
  result: string;
  statusCode: number | undefined;
  latencyMs: number;
  error: string | undefined;
  responseExcerpt: string | undefined;
}

export interface MessageFilter {
  /** Undefined for every merchant (operations staff only). */
  merchantId: string | undefined;
  endpointId?: string;
  status?: MessageStatus;
  subjectId?: string;
}

/** Why a replay did not happen. */
export type ReplayRefusal = "not_found" | "endpoint_inactive";

type MessageRow = {
  id: string;
  merchantId: string;
  endpointId: string;
  eventId: string;
  subjectId: string | null;
  status: string;
  attempts: number;
  nextAttemptAt: Date;
  createdAt: Date;
  deliveredAt: Date | null;
};

const MESSAGE_FIELDS = [
  "id",
  "merchantId",
  "endpointId",
  "eventId",
  "subjectId",
  "status",
  "attempts",
  "nextAttemptAt",
  "createdAt",
  "deliveredAt",
] as const;

/** Reading messages and their attempts, and replaying them. */
export class MessageStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** The message, if it belongs to `merchantId` (any merchant when undefined). */
  async get(merchantId: string | undefined, id: string): Promise<MessageView | undefined> {
    const em = this.#db.em();
    const row = await findRow(em, merchantId, id);
    return row && (await withEventTypes(em, [row]))[0];
  }

  /** Messages matching `filter`, newest first, `limit` at a time after the message `startingAfter`. */
  async list(filter: MessageFilter, limit: number, startingAfter: string | undefined): Promise<Page<MessageView>> {
    const em = this.#db.em();
    const where: Record<string, unknown> = {};
    if (filter.merchantId !== undefined) where.merchantId = filter.merchantId;
    if (filter.endpointId !== undefined) where.endpointId = filter.endpointId;
    if (filter.status !== undefined) where.status = filter.status;
    if (filter.subjectId !== undefined) where.subjectId = filter.subjectId;
    const qb = em
      .createQueryBuilder(Message)
      .select([...MESSAGE_FIELDS])
      .where(where)
      .orderBy({ createdAt: "desc", id: "desc" })
      .limit(limit + 1);
    if (startingAfter) {
      const cursor = await findRow(em, filter.merchantId, startingAfter);
      if (!cursor) return { items: [], hasMore: false, cursorMissing: true };
      const createdAt = asDate(cursor.createdAt);
      qb.andWhere({ $or: [{ createdAt: { $lt: createdAt } }, { createdAt, id: { $lt: cursor.id } }] });
    }
    const rows = (await qb.execute("all")) as MessageRow[];
    const page = pageOf(rows, limit);
    return { items: await withEventTypes(em, page.items), hasMore: page.hasMore };
  }

  /** Attempts of one message, oldest first, `limit` at a time after the attempt `startingAfter`. */
  async attempts(messageId: string, limit: number, startingAfter: string | undefined): Promise<Page<AttemptView>> {
    const where: Record<string, unknown> = { messageId };
    if (startingAfter) {
      if (!/^\d{1,19}$/.test(startingAfter)) return { items: [], hasMore: false, cursorMissing: true };
      where.id = { $gt: startingAfter };
    }
    const rows = await this.#db
      .em()
      .createQueryBuilder(Attempt)
      .select(["id", "messageId", "attemptedAt", "result", "statusCode", "latencyMs", "error", "responseExcerpt"])
      .where(where)
      .orderBy({ id: "asc" })
      .limit(limit + 1)
      .execute("all");
    return pageOf(
      rows.map((r) => ({
        id: String(r.id),
        messageId: r.messageId,
        attemptedAt: asDate(r.attemptedAt),
        result: r.result,
        statusCode: r.statusCode ?? undefined,
        latencyMs: r.latencyMs,
        error: r.error ?? undefined,
        responseExcerpt: r.responseExcerpt ?? undefined,
      })),
      limit,
    );
  }

  /**
   * Makes the merchant's message due now, keeping its id (the `webhook-id`). A DELIVERED or DEAD
   * message goes back to PENDING; its attempt count is kept, so a dead message gets one more attempt
   * and a delivered one the rest of the schedule. A message in flight is left to its claim.
   */
  async replay(merchantId: string, id: string, now = new Date()): Promise<MessageView | ReplayRefusal> {
    return this.#db.em().transactional(async (em) => {
      const row = await findRow(em, merchantId, id);
      if (!row) return "not_found";
      if (!(await activeEndpointIds(em, [row.endpointId])).has(row.endpointId)) return "endpoint_inactive";
      await em
        .createQueryBuilder(Message)
        .update({
          status: MessageStatus.PENDING,
          nextAttemptAt: now,
          deliveredAt: null,
          leaseToken: null,
          lockedUntil: null,
          updatedAt: now,
        })
        // A PENDING message under a lease is in flight; a final one may carry a dead claimer's token.
        .where({ id, $or: [{ leaseToken: null }, { status: { $ne: MessageStatus.PENDING } }] })
        .execute("run");
      const updated = await findRow(em, merchantId, id);
      return (await withEventTypes(em, [updated ?? row]))[0]!;
    });
  }

  /**
   * Re-queues failed messages created since `since` (of one merchant, or of all): DEAD ones go back
   * to PENDING for one more attempt, PENDING ones waiting for a retry are made due now. Messages of
   * disabled or deleted endpoints are left as they are. Returns how many were re-queued.
   */
  async replayFailed(merchantId: string | undefined, since: Date, now = new Date()): Promise<number> {
    return this.#db.em().transactional(async (em) => {
      const scope: Record<string, unknown> = { createdAt: { $gte: since } };
      if (merchantId !== undefined) scope.merchantId = merchantId;
      const failed = {
        $or: [
          { status: MessageStatus.DEAD },
          { status: MessageStatus.PENDING, attempts: { $gt: 0 }, leaseToken: null },
        ],
      };
      const candidates = await em
        .createQueryBuilder(Message)
        .select(["endpointId"])
        .distinct()
        .where({ ...scope, ...failed })
        .execute("all");
      const active = [
        ...(await activeEndpointIds(
          em,
          candidates.map((c) => c.endpointId),
        )),
      ];
      let requeued = 0;
      for (let i = 0; i < active.length; i += 500) {
        const result = await em
          .createQueryBuilder(Message)
          .update({
            status: MessageStatus.PENDING,
            nextAttemptAt: now,
            leaseToken: null,
            lockedUntil: null,
            updatedAt: now,
          })
          .where({ ...scope, ...failed, endpointId: { $in: active.slice(i, i + 500) } })
          .execute("run");
        requeued += result.affectedRows;
      }
      return requeued;
    });
  }
}

async function findRow(em: EntityManager, merchantId: string | undefined, id: string): Promise<MessageRow | undefined> {
  const where: Record<string, unknown> = { id };
  if (merchantId !== undefined) where.merchantId = merchantId;
  const [row] = await em
    .createQueryBuilder(Message)
    .select([...MESSAGE_FIELDS])
    .where(where)
    .execute("all");
  return row as MessageRow | undefined;
}

/** Which of `ids` are enabled, undeleted endpoints. */
async function activeEndpointIds(em: EntityManager, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await em
    .createQueryBuilder(Endpoint)
    .select(["id"])
    .where({ id: { $in: [...new Set(ids)] }, enabled: true, deletedAt: null })
    .execute("all");
  return new Set(rows.map((r) => r.id));
}

/** Adds each message's event type, read from its event in one query. */
async function withEventTypes(em: EntityManager, rows: readonly MessageRow[]): Promise<MessageView[]> {
  if (rows.length === 0) return [];
  const events = await em
    .createQueryBuilder(Event)
    .select(["id", "type"])
    .where({ id: { $in: [...new Set(rows.map((r) => r.eventId))] } })
    .execute("all");
  const typeOf = new Map(events.map((e) => [e.id, e.type]));
  return rows.map((r) => ({
    id: r.id,
    merchantId: r.merchantId,
    endpointId: r.endpointId,
    eventId: r.eventId,
    eventType: typeOf.get(r.eventId) ?? "",
    subjectId: r.subjectId ?? undefined,
    status: r.status as MessageStatus,
    attempts: r.attempts,
    nextAttemptAt: asDate(r.nextAttemptAt),
    createdAt: asDate(r.createdAt),
    deliveredAt: r.deliveredAt === null ? undefined : asDate(r.deliveredAt),
  }));
}
