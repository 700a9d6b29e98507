import { randomBytes } from "node:crypto";
import {
  type Database,
  placeholders,
  type Row,
  type SqlTransaction,
  type SqlValue,
  type Statement,
  sqlDate,
  tuples,
} from "@mypay/kit";
import { type AttemptResult, MessageStatus, type NextState } from "../domain/delivery.ts";

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
   * recorded (the process died) comes due again when its lease ends. One transaction of two round trips:
   * the locking read (rows another claimer locked are skipped), then the lease with the reads of the
   * events and endpoints.
   */
  async claimDue(
    limit: number,
    leaseMs: number,
    now = new Date(),
    skipEndpoints: readonly string[] = [],
  ): Promise<ClaimedMessage[]> {
    const token = randomBytes(12).toString("hex");
    const lockedUntil = new Date(now.getTime() + leaseMs);
    const lock = this.#db.kind === "sqlite" ? "" : " for update skip locked";
    const skip = skipEndpoints.length > 0 ? ` and endpoint_id not in (${placeholders(skipEndpoints.length)})` : "";
    return this.#db.sql.transaction(async (tx) => {
      const due = await tx.query<{
        id: string;
        merchant_id: string;
        endpoint_id: string;
        event_id: string;
        attempts: unknown;
      }>(
        `select id, merchant_id, endpoint_id, event_id, attempts from messages
          where status = 'PENDING' and next_attempt_at <= ?${skip} order by next_attempt_at limit ${Math.floor(limit)}${lock}`,
        [now, ...skipEndpoints],
      );
      if (due.length === 0) return [];
      const ids = due.map((m) => m.id);
      const eventIds = [...new Set(due.map((m) => m.event_id))];
      const endpointIds = [...new Set(due.map((m) => m.endpoint_id))];
      // Moving next_attempt_at to the lease's end takes the rows out of every other claimer's "due" set.
      const [updated, events, endpoints] = (await tx.commitWith([
        [
          `update messages set lease_token = ?, locked_until = ?, next_attempt_at = ?, updated_at = ?
            where id in (${placeholders(ids.length)}) and status = 'PENDING' and next_attempt_at <= ?`,
          [token, lockedUntil, lockedUntil, now, ...ids, now],
        ],
        [`select id, payload from events where id in (${placeholders(eventIds.length)})`, eventIds],
        [
          `select id, url, secret, previous_secret, previous_secret_expires_at, enabled, deleted_at
             from endpoints where id in (${placeholders(endpointIds.length)})`,
          endpointIds,
        ],
      ])) as [number, Row[], Row[]];
      // Locked rows (a server) or the only writer (SQLite): the lease covers every row read.
      if (updated !== due.length) throw new Error(`leased ${updated} of ${due.length} claimed messages`);
      const payloadOf = new Map(events.map((e) => [e.id as string, e.payload as string]));
      const endpointOf = new Map(endpoints.map((e) => [e.id as string, e]));
      return due.map((m): ClaimedMessage => {
        const endpoint = endpointOf.get(m.endpoint_id);
        return {
          id: m.id,
          merchantId: m.merchant_id,
          endpointId: m.endpoint_id,
          eventId: m.event_id,
          attempts: Number(m.attempts),
          token,
          active: endpoint !== undefined && Boolean(Number(endpoint.enabled)) && endpoint.deleted_at == null,
          url: endpoint?.url as string | undefined,
          secret: endpoint?.secret as string | undefined,
          previousSecret: (endpoint?.previous_secret as string | null | undefined) ?? undefined,
          previousSecretExpiresAt:
            endpoint?.previous_secret_expires_at == null ? undefined : sqlDate(endpoint.previous_secret_expires_at),
          payload: payloadOf.get(m.event_id),
        };
      });
    });
  }

  /** Hands claimed messages back unattempted, due at once (for another claim or process). */
  async release(messages: readonly ClaimedMessage[], now = new Date()): Promise<void> {
    if (messages.length === 0) return;
    await this.#db.sql.run(
      `update messages set lease_token = null, locked_until = null, next_attempt_at = ?, updated_at = ?
        where ${heldBy(messages.map((m) => ({ id: m.id, token: m.token })))}`,
      [now, now, ...heldByParams(messages.map((m) => ({ id: m.id, token: m.token })))],
    );
  }

  /** Cancels claimed messages whose endpoint is no longer active: DEAD, without an attempt. */
  async cancel(messages: readonly ClaimedMessage[], now = new Date()): Promise<void> {
    if (messages.length === 0) return;
    const held = messages.map((m) => ({ id: m.id, token: m.token }));
    await this.#db.sql.run(
      `update messages set status = 'DEAD', lease_token = null, locked_until = null, updated_at = ? where ${heldBy(held)}`,
      [now, ...heldByParams(held)],
    );
  }

  /**
   * Records attempts and the messages' new states in one transaction, with the endpoints' health:
   * a success ends an endpoint's failure streak; a 410 Gone, or failing for `disableAfterMs`,
   * disables it and cancels its pending messages. Messages whose lease was taken over by another
   * claim keep their state; their attempts are still recorded. Returns the endpoints disabled now.
   * One round trip when every attempt delivered; otherwise two: the attempts, the messages' states and
   * the endpoints' read, then the endpoints' changes with the COMMIT.
   */
  async recordAttempts(
    records: readonly AttemptRecord[],
    options: RecordOptions,
    now = new Date(),
  ): Promise<DisabledEndpoint[]> {
    if (records.length === 0) return [];
    const endpointIds = [...new Set(records.map((r) => r.message.endpointId))];
    return this.#db.sql.transaction(async (tx) => {
      const writes: Statement[] = [
        [
          `insert into attempts (message_id, attempt, attempted_at, result, status_code, latency_ms, error, response_excerpt)
           values ${tuples(records.length, 8)}`,
          records.flatMap((r) => [
            r.message.id,
            r.message.attempts + 1,
            r.attemptedAt,
            r.result,
            r.statusCode ?? null,
            r.latencyMs,
            r.error === undefined ? null : r.error.slice(0, ERROR_LENGTH),
            r.responseExcerpt ?? null,
          ]),
        ],
      ];
      const released = "lease_token = null, locked_until = null, updated_at = ?, attempts = attempts + 1";
      const held = (list: readonly AttemptRecord[]) => list.map((r) => ({ id: r.message.id, token: r.message.token }));
      const delivered = records.filter((r) => r.next.status === MessageStatus.DELIVERED);
      if (delivered.length > 0) {
        writes.push([
          `update messages set status = 'DELIVERED', delivered_at = ?, ${released} where ${heldBy(held(delivered))}`,
          [now, now, ...heldByParams(held(delivered))],
        ]);
      }
      const dead = records.filter((r) => r.next.status === MessageStatus.DEAD);
      if (dead.length > 0) {
        writes.push([
          `update messages set status = 'DEAD', ${released} where ${heldBy(held(dead))}`,
          [now, ...heldByParams(held(dead))],
        ]);
      }
      const retries = records.flatMap((r) =>
        r.next.status === MessageStatus.PENDING ? [{ r, at: r.next.nextAttemptAt }] : [],
      );
      if (retries.length > 0) {
        const cases = retries.map(() => "when ? then ?").join(" ");
        writes.push([
          `update messages set next_attempt_at = case id ${cases} end, ${released} where ${heldBy(held(retries.map((x) => x.r)))}`,
          [...retries.flatMap((x) => [x.r.message.id, x.at]), now, ...heldByParams(held(retries.map((x) => x.r)))],
        ]);
      }
      if (delivered.length === records.length) {
        // Every endpoint had a success: any failure streak ends, and nothing else about them changes.
        await tx.commitWith([
          ...writes,
          [
            `update endpoints set failing_since = null where id in (${placeholders(endpointIds.length)}) and failing_since is not null`,
            endpointIds,
          ],
        ]);
        return [];
      }
      writes.push([
        `select id, merchant_id, failing_since, enabled, deleted_at from endpoints where id in (${placeholders(endpointIds.length)})`,
        endpointIds,
      ]);
      const results = await tx.many(writes);
      const endpoints = results.at(-1) as Row[];
      return this.#recordHealth(tx, endpoints, records, options, now);
    });
  }

  /** The endpoints' health changes, committed with them; returns the endpoints disabled now. */
  async #recordHealth(
    tx: SqlTransaction,
    endpoints: Row[],
    records: readonly AttemptRecord[],
    options: RecordOptions,
    now: Date,
  ): Promise<DisabledEndpoint[]> {
    const succeeded = new Set(
      records.filter((r) => r.next.status === MessageStatus.DELIVERED).map((r) => r.message.endpointId),
    );
    const gone = new Set(records.filter((r) => r.statusCode === 410).map((r) => r.message.endpointId));
    // Write only what changes: a healthy endpoint's row is not touched (nor locked).
    const recovered = endpoints.filter((e) => succeeded.has(e.id as string) && e.failing_since != null);
    const failing = endpoints.filter((e) => !succeeded.has(e.id as string));
    const starting = failing.filter((e) => e.failing_since == null);
    const writes: Statement[] = [];
    if (recovered.length > 0) {
      writes.push([
        `update endpoints set failing_since = null where id in (${placeholders(recovered.length)})`,
        recovered.map((e) => e.id as string),
      ]);
    }
    if (starting.length > 0) {
      writes.push([
        `update endpoints set failing_since = ? where id in (${placeholders(starting.length)}) and failing_since is null`,
        [now, ...starting.map((e) => e.id as string)],
      ]);
    }
    const cutoff = new Date(now.getTime() - options.disableAfterMs);
    const hours = Math.round((options.disableAfterMs / 3_600_000) * 100) / 100;
    const disabling: DisabledEndpoint[] = [];
    for (const endpoint of failing) {
      if (!Number(endpoint.enabled) || endpoint.deleted_at != null) continue;
      const since = endpoint.failing_since == null ? now : sqlDate(endpoint.failing_since);
      let reason: string | undefined;
      if (gone.has(endpoint.id as string)) reason = GONE_REASON;
      else if (since <= cutoff) reason = `every attempt failed for ${hours} h (since ${since.toISOString()})`;
      if (reason) disabling.push({ id: endpoint.id as string, merchantId: endpoint.merchant_id as string, reason });
    }
    const firstDisable = writes.length;
    for (const endpoint of disabling) {
      writes.push([
        "update endpoints set enabled = 0, disabled_reason = ?, updated_at = ? where id = ? and enabled = 1",
        [endpoint.reason, now, endpoint.id],
      ]);
    }
    // Disabled endpoints get nothing more: their pending messages are cancelled (as a disable by hand does).
    if (disabling.length > 0) {
      writes.push([
        `update messages set status = 'DEAD', updated_at = ? where endpoint_id in (${placeholders(disabling.length)}) and status = 'PENDING'`,
        [now, ...disabling.map((d) => d.id)],
      ]);
    }
    const results = await tx.commitWith(writes);
    return disabling.filter((_, i) => results[firstDisable + i] === 1);
  }

  /** Messages pending and dead, and platform-disabled endpoints, for the gauges. */
  async queueDepth(): Promise<QueueDepth> {
    const [rows, [disabled]] = (await this.#db.sql.many([
      ["select status, count(*) as n from messages where status in ('PENDING', 'DEAD') group by status"],
      ["select count(*) as n from endpoints where enabled = 0 and disabled_reason is not null and deleted_at is null"],
    ])) as [Array<{ status: string; n: unknown }>, Array<{ n: unknown }>];
    const of = (status: string) => Number(rows.find((r) => r.status === status)?.n ?? 0);
    return {
      pending: of(MessageStatus.PENDING),
      dead: of(MessageStatus.DEAD),
      disabledEndpoints: Number(disabled?.n ?? 0),
    };
  }

  /** Messages waiting or in flight: what the backlog bound counts. */
  async pendingCount(): Promise<number> {
    const [row] = await this.#db.sql.query<{ n: unknown }>(
      "select count(*) as n from messages where status = 'PENDING'",
    );
    return Number(row?.n ?? 0);
  }
}

/**
 * `id in (…) and lease_token = case id when … end`: rows still held by the lease each claim gave them
 * (a message whose lease another claim took over is left alone).
 */
function heldBy(held: ReadonlyArray<{ id: string; token: string }>): string {
  return `id in (${placeholders(held.length)}) and lease_token = case id ${held.map(() => "when ? then ?").join(" ")} end`;
}

function heldByParams(held: ReadonlyArray<{ id: string; token: string }>): SqlValue[] {
  return [...held.map((h) => h.id), ...held.flatMap((h) => [h.id, h.token])];
}
