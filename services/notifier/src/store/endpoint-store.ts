import type { EntityManager } from "@mikro-orm/sql";
import type { Database } from "@mypay/kit";
import { MessageStatus } from "../domain/delivery.ts";
import { endpointId } from "../domain/ids.ts";
import { generateSecret } from "../domain/signature.ts";
import { Endpoint, Message } from "./entities.ts";
import { type Page, pageOf } from "./paging.ts";

export interface EndpointView {
  id: string;
  merchantId: string;
  url: string;
  description: string;
  /** Empty means every event type. */
  eventTypes: string[];
  enabled: boolean;
  /** Why the platform disabled the endpoint; undefined when it did not. */
  disabledReason: string | undefined;
  createdAt: Date;
  updatedAt: Date;
}

export interface NewEndpoint {
  merchantId: string;
  url: string;
  description: string;
  eventTypes: string[];
}

/** Fields an update may change; absent ones stay as they are. */
export interface EndpointChanges {
  url?: string;
  description?: string;
  eventTypes?: string[];
  enabled?: boolean;
}

export interface Rotation {
  endpoint: EndpointView;
  secret: string;
  previousSecretExpiresAt: Date;
}

type EndpointRow = {
  id: string;
  merchantId: string;
  url: string;
  description: string;
  eventTypes: string;
  enabled: boolean | number;
  disabledReason: string | null;
  createdAt: Date;
  updatedAt: Date;
};

const VIEW_FIELDS = [
  "id",
  "merchantId",
  "url",
  "description",
  "eventTypes",
  "enabled",
  "disabledReason",
  "createdAt",
  "updatedAt",
] as const;

/**
 * Webhook endpoints of each merchant. Callers validate URLs and event types first. Every read and
 * change is scoped to one merchant: another merchant's endpoint, or a deleted one, is not found.
 */
export class EndpointStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Registers an enabled endpoint with a fresh secret; the secret is returned only here. */
  async create(input: NewEndpoint, now = new Date()): Promise<{ endpoint: EndpointView; secret: string }> {
    const endpoint: EndpointView = {
      id: endpointId(),
      ...input,
      enabled: true,
      disabledReason: undefined,
      createdAt: now,
      updatedAt: now,
    };
    const secret = generateSecret();
    await this.#db
      .em()
      .createQueryBuilder(Endpoint)
      .insert({
        id: endpoint.id,
        merchantId: endpoint.merchantId,
        url: endpoint.url,
        description: endpoint.description,
        eventTypes: joinEventTypes(endpoint.eventTypes),
        secret,
        previousSecret: null,
        previousSecretExpiresAt: null,
        enabled: true,
        disabledReason: null,
        failingSince: null,
        deletedAt: null,
        createdAt: now,
        updatedAt: now,
      })
      .execute("run");
    return { endpoint, secret };
  }

  /** The merchant's endpoint, or undefined (unknown, another merchant's, or deleted). */
  async get(merchantId: string, id: string): Promise<EndpointView | undefined> {
    return this.#find(this.#db.em(), merchantId, id);
  }

  /** The merchant's endpoints, oldest first, `limit` at a time after the endpoint `startingAfter`. */
  async list(merchantId: string, limit: number, startingAfter: string | undefined): Promise<Page<EndpointView>> {
    const em = this.#db.em();
    const qb = em
      .createQueryBuilder(Endpoint)
      .select([...VIEW_FIELDS])
      .where({ merchantId, deletedAt: null })
      .orderBy({ createdAt: "asc", id: "asc" })
      .limit(limit + 1);
    if (startingAfter) {
      const cursor = await this.#find(em, merchantId, startingAfter);
      if (!cursor) return { items: [], hasMore: false, cursorMissing: true };
      qb.andWhere({
        $or: [{ createdAt: { $gt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { $gt: cursor.id } }],
      });
    }
    const rows = (await qb.execute("all")) as EndpointRow[];
    return pageOf(rows.map(toView), limit);
  }

  /**
   * Applies `changes` to the merchant's endpoint. Enabling clears the platform's disabled reason and
   * the failure streak; disabling cancels its pending messages (see `cancelPending`).
   */
  async update(
    merchantId: string,
    id: string,
    changes: EndpointChanges,
    now = new Date(),
  ): Promise<EndpointView | undefined> {
    return this.#db.em().transactional(async (em) => {
      const current = await this.#find(em, merchantId, id);
      if (!current) return undefined;
      const set: Record<string, unknown> = { updatedAt: now };
      if (changes.url !== undefined) set.url = changes.url;
      if (changes.description !== undefined) set.description = changes.description;
      if (changes.eventTypes !== undefined) set.eventTypes = joinEventTypes(changes.eventTypes);
      if (changes.enabled === true && !current.enabled) {
        Object.assign(set, { enabled: true, disabledReason: null, failingSince: null });
      }
      if (changes.enabled === false && current.enabled) set.enabled = false;
      await em.createQueryBuilder(Endpoint).update(set).where({ id, merchantId }).execute("run");
      if (set.enabled === false) await cancelPending(em, [id], now);
      return this.#find(em, merchantId, id);
    });
  }

  /** Soft-deletes the merchant's endpoint and cancels its pending messages. False when not found. */
  async delete(merchantId: string, id: string, now = new Date()): Promise<boolean> {
    return this.#db.em().transactional(async (em) => {
      const result = await em
        .createQueryBuilder(Endpoint)
        .update({ deletedAt: now, enabled: false, updatedAt: now })
        .where({ id, merchantId, deletedAt: null })
        .execute("run");
      if (result.affectedRows === 0) return false;
      await cancelPending(em, [id], now);
      return true;
    });
  }

  /**
   * Gives the endpoint a new secret. The current one becomes the previous secret and keeps signing
   * until `now + graceMs`; a secret older than that is dropped at once.
   */
  async rotateSecret(merchantId: string, id: string, graceMs: number, now = new Date()): Promise<Rotation | undefined> {
    const secret = generateSecret();
    const previousSecretExpiresAt = new Date(now.getTime() + graceMs);
    return this.#db.em().transactional(async (em) => {
      const [row] = await em
        .createQueryBuilder(Endpoint)
        .select(["secret"])
        .where({ id, merchantId, deletedAt: null })
        .execute("all");
      if (!row) return undefined;
      await em
        .createQueryBuilder(Endpoint)
        .update({ secret, previousSecret: row.secret, previousSecretExpiresAt, updatedAt: now })
        .where({ id, merchantId })
        .execute("run");
      const endpoint = await this.#find(em, merchantId, id);
      return endpoint && { endpoint, secret, previousSecretExpiresAt };
    });
  }

  async #find(em: EntityManager, merchantId: string, id: string): Promise<EndpointView | undefined> {
    const [row] = (await em
      .createQueryBuilder(Endpoint)
      .select([...VIEW_FIELDS])
      .where({ id, merchantId, deletedAt: null })
      .execute("all")) as EndpointRow[];
    return row && toView(row);
  }
}

/**
 * Cancels the pending messages of endpoints that were disabled or deleted: they become DEAD
 * without another attempt, so they show among the dead letters and can be replayed once the
 * endpoint is enabled again. A message in flight finishes its attempt; if that attempt delivers it,
 * it is DELIVERED, otherwise it stays DEAD.
 */
export async function cancelPending(em: EntityManager, endpointIds: readonly string[], now: Date): Promise<number> {
  if (endpointIds.length === 0) return 0;
  const result = await em
    .createQueryBuilder(Message)
    .update({ status: MessageStatus.DEAD, updatedAt: now })
    .where({ endpointId: { $in: [...endpointIds] }, status: MessageStatus.PENDING })
    .execute("run");
  return result.affectedRows;
}

function toView(row: EndpointRow): EndpointView {
  return {
    id: row.id,
    merchantId: row.merchantId,
    url: row.url,
    description: row.description,
    eventTypes: splitEventTypes(row.eventTypes),
    enabled: Boolean(row.enabled),
    disabledReason: row.disabledReason ?? undefined,
    createdAt: asDate(row.createdAt),
    updatedAt: asDate(row.updatedAt),
  };
}

/** Query-builder rows are not hydrated: SQLite gives epoch milliseconds, MySQL a Date. */
export function asDate(value: Date | string | number): Date {
  return value instanceof Date
    ? value
    : new Date(typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value);
}

/** Event types are stored comma-joined; their names never contain commas. */
export function joinEventTypes(types: readonly string[]): string {
  return types.join(",");
}

export function splitEventTypes(stored: string): string[] {
  return stored === "" ? [] : stored.split(",");
}
