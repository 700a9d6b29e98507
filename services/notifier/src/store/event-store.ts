import type { Database } from "@mypay/kit";
import { MessageStatus } from "../domain/delivery.ts";
import { messageId } from "../domain/ids.ts";
import { firstAttemptAt } from "../domain/retry-schedule.ts";
import { splitEventTypes } from "./endpoint-store.ts";
import { Endpoint, Event, Message } from "./entities.ts";

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
}

/** Stores events once and fans each new one out to its merchant's matching endpoints. */
export class EventStore {
  readonly #db: Database;
  readonly #schedule: readonly number[];

  constructor(db: Database, retrySchedule: readonly number[]) {
    this.#db = db;
    this.#schedule = retrySchedule;
  }

  /**
   * Stores `events` (deduplicated on id, also within the call) and queues one message per
   * enabled endpoint of the event's merchant whose filter matches, all in one transaction.
   */
  async publish(events: readonly NewEvent[]): Promise<PublishResult> {
    const ids = new Set<string>();
    const unique = events.filter((e) => !ids.has(e.id) && ids.add(e.id));
    if (unique.length === 0) return { accepted: 0, queued: 0 };
    const now = new Date();
    return this.#db.em().transactional(async (em) => {
      const known = await em
        .createQueryBuilder(Event)
        .select(["id"])
        .where({ id: { $in: unique.map((e) => e.id) } })
        .execute("all");
      const seen = new Set(known.map((row) => row.id));
      const fresh = unique.filter((e) => !seen.has(e.id));
      if (fresh.length === 0) return { accepted: 0, queued: 0 };
      // A concurrent call may store the same id between the read and this insert: ignoring the
      // duplicate keeps one row, and the messages' unique (event, endpoint) key keeps one message.
      const inserted = await em
        .createQueryBuilder(Event)
        .insert(
          fresh.map((e) => ({
            id: e.id,
            merchantId: e.merchantId,
            type: e.type,
            payload: e.payload,
            occurredAt: e.occurredAt,
            createdAt: now,
          })),
        )
        .onConflict("id")
        .ignore()
        .execute("run");
      const endpoints = await em
        .createQueryBuilder(Endpoint)
        .select(["id", "merchantId", "eventTypes"])
        .where({ merchantId: { $in: [...new Set(fresh.map((e) => e.merchantId))] }, enabled: true })
        .execute("all");
      const messages = fresh.flatMap((event) =>
        endpoints
          .filter((ep) => ep.merchantId === event.merchantId && matches(splitEventTypes(ep.eventTypes), event.type))
          .map((ep) => ({
            id: messageId(),
            eventId: event.id,
            endpointId: ep.id,
            merchantId: event.merchantId,
            subjectId: event.subjectId ?? null,
            status: MessageStatus.PENDING,
            attempts: 0,
            nextAttemptAt: firstAttemptAt(this.#schedule, now),
            lockedUntil: null,
            leaseToken: null,
            createdAt: now,
            updatedAt: now,
          })),
      );
      let queued = 0;
      if (messages.length > 0) {
        const result = await em
          .createQueryBuilder(Message)
          .insert(messages)
          .onConflict(["eventId", "endpointId"])
          .ignore()
          .execute("run");
        queued = result.affectedRows;
      }
      return { accepted: inserted.affectedRows, queued };
    });
  }
}

/** An empty filter takes every event type. */
function matches(filter: readonly string[], type: string): boolean {
  return filter.length === 0 || filter.includes(type);
}
