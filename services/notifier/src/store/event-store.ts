import { randomBytes } from "node:crypto";
import { type Database, placeholders, type SqlValue, type Statement, sqlDate, tuples } from "@mypay/kit";
import { MessageStatus } from "../domain/delivery.ts";
import { messageId } from "../domain/ids.ts";
import { firstAttemptAt } from "../domain/retry-schedule.ts";
import type { ClaimedMessage } from "./delivery-store.ts";
import { splitEventTypes } from "./endpoint-store.ts";

export interface NewEvent {
  id: string;
  type: string;
  merchantId: string;
  /** Id of the object the event is about; its messages can be listed by it. */
  subjectId: string | undefined;
  occurredAt: Date;
  /** The exact JSON body to deliver. */
  payload: string;
}

export interface PublishResult {
  /** Events stored by this call; ids stored before are not counted. */
  accepted: number;
  /** Messages queued for delivery. */
  queued: number;
  /** Of those, the messages handed to this process's delivery loop (the others wait for a claim). */
  handedOver: number;
}

export interface EventStoreOptions {
  /**
   * In-process delivery of new messages: when a message's first attempt is due at once, it is leased to
   * this process for `leaseMs` and handed to `deliver` after the commit, with everything needed to send
   * it, so it is never claimed from the table. Should this process die first, any process claims it once
   * the lease runs out. Without it, new messages wait for a claim.
   */
  handoff?: {
    leaseMs: number;
    deliver: (messages: ClaimedMessage[]) => void;
    /**
     * Asked once per publish: the room the receiving loop has, as a function that says, message by
     * message, whether it takes one more for that endpoint. A message it refuses is stored due at once,
     * without a lease, and waits for a claim. Without it, every message due at once is handed over.
     */
    admit?: () => (endpointId: string) => boolean;
  };
}

interface EndpointRow {
  id: string;
  merchant_id: string;
  event_types: string;
  url: string;
  secret: string;
  previous_secret: string | null;
  previous_secret_expires_at: unknown;
}

const MESSAGE_COLUMNS =
  "id, event_id, endpoint_id, merchant_id, subject_id, status, attempts, next_attempt_at, locked_until, lease_token, created_at, updated_at";

/** Stores events once and fans each new one out to its merchant's matching endpoints. */
export class EventStore {
  readonly #db: Database;
  readonly #schedule: readonly number[];
  readonly #handoff: EventStoreOptions["handoff"];

  constructor(db: Database, retrySchedule: readonly number[], options: EventStoreOptions = {}) {
    this.#db = db;
    this.#schedule = retrySchedule;
    this.#handoff = options.handoff;
  }

  /**
   * Stores `events` (deduplicated on id, also within the call) and queues one message per enabled
   * endpoint of the event's merchant whose filter matches, in one transaction of two round trips.
   */
  async publish(events: readonly NewEvent[]): Promise<PublishResult> {
    const ids = new Set<string>();
    const unique = events.filter((e) => !ids.has(e.id) && ids.add(e.id));
    if (unique.length === 0) return { accepted: 0, queued: 0, handedOver: 0 };
    const merchants = [...new Set(unique.map((e) => e.merchantId))];
    const ignore = this.#db.kind === "sqlite" ? "insert or ignore" : "insert ignore";
    const result = await this.#db.sql.transaction(async (tx) => {
      const now = new Date();
      const [known, endpoints] = (await tx.many([
        [`select id from events where id in (${placeholders(unique.length)})`, unique.map((e) => e.id)],
        [
          `select id, merchant_id, event_types, url, secret, previous_secret, previous_secret_expires_at
             from endpoints where merchant_id in (${placeholders(merchants.length)}) and enabled = 1 and deleted_at is null`,
          merchants,
        ],
      ])) as [Array<{ id: string }>, EndpointRow[]];
      const seen = new Set(known.map((row) => row.id));
      const fresh = unique.filter((e) => !seen.has(e.id));
      if (fresh.length === 0) return { accepted: 0, queued: 0, handed: [] };
      const firstDue = firstAttemptAt(this.#schedule, now);
      // Due at once: this process sends them itself, under a lease; otherwise they wait for a claim.
      const lease =
        this.#handoff && firstDue <= now
          ? { token: randomBytes(12).toString("hex"), until: new Date(now.getTime() + this.#handoff.leaseMs) }
          : undefined;
      const admit = lease ? (this.#handoff?.admit?.() ?? (() => true)) : undefined;
      const handed: ClaimedMessage[] = [];
      const rows: SqlValue[] = [];
      for (const event of fresh) {
        for (const ep of endpoints) {
          if (ep.merchant_id !== event.merchantId || !matches(splitEventTypes(ep.event_types), event.type)) continue;
          const id = messageId();
          const leased = admit?.(ep.id) ? lease : undefined;
          rows.push(
            id,
            event.id,
            ep.id,
            event.merchantId,
            event.subjectId ?? null,
            MessageStatus.PENDING,
            0,
            leased?.until ?? firstDue,
            leased?.until ?? null,
            leased?.token ?? null,
            now,
            now,
          );
          if (!leased) continue;
          handed.push({
            id,
            merchantId: event.merchantId,
            endpointId: ep.id,
            eventId: event.id,
            attempts: 0,
            token: leased.token,
            active: true,
            url: ep.url,
            secret: ep.secret,
            previousSecret: ep.previous_secret ?? undefined,
            previousSecretExpiresAt:
              ep.previous_secret_expires_at == null ? undefined : sqlDate(ep.previous_secret_expires_at),
            payload: event.payload,
          });
        }
      }
      // A concurrent call may store the same id between the read and these inserts: ignoring the
      // duplicate keeps one row, and the messages' unique (event, endpoint) key keeps one message.
      const writes: Statement[] = [
        [
          `${ignore} into events (id, merchant_id, type, payload, occurred_at, created_at) values ${tuples(fresh.length, 6)}`,
          fresh.flatMap((e) => [e.id, e.merchantId, e.type, e.payload, e.occurredAt, now]),
        ],
      ];
      const width = 12;
      if (rows.length > 0) {
        writes.push([
          `${ignore} into messages (${MESSAGE_COLUMNS}) values ${tuples(rows.length / width, width)}`,
          rows,
        ]);
      }
      const [accepted, queued = 0] = (await tx.commitWith(writes)) as number[];
      return { accepted: accepted!, queued, stored: rows.length / width, handed, lease };
    });
    let handedOver = 0;
    if (result.handed.length > 0 && result.lease) {
      if (result.queued === result.stored) {
        this.#handoff?.deliver(result.handed);
        handedOver = result.handed.length;
      } else {
        // A racing call stored some of these messages under its own ids: ours that were stored are due
        // now for a claim, rather than sent by this process under ids that may not exist.
        await this.#dueNow(
          result.handed.map((m) => m.id),
          result.lease.token,
        );
      }
    }
    return { accepted: result.accepted, queued: result.queued, handedOver };
  }

  async #dueNow(ids: string[], token: string): Promise<void> {
    const now = new Date();
    await this.#db.sql.run(
      `update messages set next_attempt_at = ?, locked_until = null, lease_token = null, updated_at = ?
        where id in (${placeholders(ids.length)}) and lease_token = ?`,
      [now, now, ...ids, token],
    );
  }
}

/** An empty filter takes every event type. */
function matches(filter: readonly string[], type: string): boolean {
  return filter.length === 0 || filter.includes(type);
}
