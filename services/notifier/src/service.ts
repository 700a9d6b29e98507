import { create } from "@bufbuild/protobuf";
import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { appError, Code, invalidArgument, MERCHANT_HEADER, notFound, Reason } from "@mypay/kit";
import type { PageRequest } from "@mypay/proto/mypay/common/v1/paging";
import {
  type Attempt,
  AttemptSchema,
  type Endpoint,
  EndpointSchema,
  type Message,
  MessageSchema,
  MessageStatus as MessageStatusPb,
  type NotifierService,
  type WebhookEndpointService,
} from "@mypay/proto/mypay/notifier/v1/notifier";
import type { DeliveryMetrics } from "./delivery/delivery-metrics.ts";
import { checkTarget, type TargetPolicy } from "./delivery/target-guard.ts";
import { MessageStatus } from "./domain/delivery.ts";
import type { BacklogLimit } from "./store/backlog-limit.ts";
import type { EndpointChanges, EndpointStore, EndpointView } from "./store/endpoint-store.ts";
import type { EventStore, NewEvent } from "./store/event-store.ts";
import type { AttemptView, MessageStore, MessageView } from "./store/message-store.ts";
import type { Page } from "./store/paging.ts";

/** Events accepted by one Publish call. */
export const MAX_EVENTS_PER_CALL = 1000;
/** Largest payload: what a MySQL TEXT column holds. */
export const MAX_PAYLOAD_BYTES = 65_535;
const MAX_EVENT_TYPES = 50;
const MAX_DESCRIPTION = 200;
const DEFAULT_PAGE = 20;
const MAX_PAGE = 100;
/** Fields UpdateEndpoint may change, by the names accepted in `update_mask`. */
const MASK_FIELDS: Record<string, keyof EndpointChanges> = {
  url: "url",
  description: "description",
  event_types: "eventTypes",
  eventTypes: "eventTypes",
  enabled: "enabled",
};
const EVENT_TYPE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
/** Subjects are the mesh's object ids (`po_…`, `ep_…`). */
const SUBJECT_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface NotifierDeps {
  endpoints: EndpointStore;
  events: EventStore;
  messages: MessageStore;
  backlog: BacklogLimit;
  policy: TargetPolicy;
  metrics: Pick<DeliveryMetrics, "observeReplays">;
  /** How long a rotated-out secret keeps signing. */
  secretGraceMs: number;
  /** Called after messages were queued or re-queued, to start delivering them at once. */
  onQueued: () => void;
  clock?: () => Date;
}

/** Internal RPCs (events in, dead letters). Thin: validates input, calls the stores. */
export function notifierService(deps: NotifierDeps): ServiceImpl<typeof NotifierService> {
  const now = deps.clock ?? (() => new Date());
  return {
    async publish(req) {
      if (req.events.length > MAX_EVENTS_PER_CALL) {
        throw invalidArgument("events", `at most ${MAX_EVENTS_PER_CALL} events per call`);
      }
      const events = req.events.map((event, i): NewEvent => {
        const field = (name: string) => `events[${i}].${name}`;
        return {
          id: text(field("id"), event.id, 128),
          type: eventType(field("type"), event.type),
          merchantId: text(field("merchantId"), event.merchantId, 64),
          subjectId: subjectOf(field("subjectId"), event.subjectId),
          occurredAt: event.occurredAt ? timestampDate(event.occurredAt) : new Date(),
          payload: payloadJson(field("payloadJson"), event.payloadJson),
        };
      });
      if (events.length > 0 && (await deps.backlog.full())) {
        throw appError(
          Code.ResourceExhausted,
          Reason.BACKLOG_FULL,
          `webhook backlog is at its bound of ${deps.backlog.max} pending messages; retry later`,
        );
      }
      const { accepted, queued, handedOver } = await deps.events.publish(events);
      deps.backlog.noteQueued(queued);
      // Handed-over messages are already on their way; the others need a claim.
      if (queued > handedOver) deps.onQueued();
      return { accepted };
    },

    async listDeadLetters(req) {
      const merchantId = req.merchantId === "" ? undefined : text("merchantId", req.merchantId, 64);
      const { limit, startingAfter } = paging(req.page);
      const page = await deps.messages.list({ merchantId, status: MessageStatus.DEAD }, limit, startingAfter);
      return { messages: checkedPage(page).map(toMessage), hasMore: page.hasMore };
    },

    async replayFailed(req) {
      const merchantId = req.merchantId === "" ? undefined : text("merchantId", req.merchantId, 64);
      const requeued = await deps.messages.replayFailed(merchantId, since(req.since), now());
      deps.metrics.observeReplays("ops", requeued);
      if (requeued > 0) deps.onQueued();
      return { requeued };
    },
  };
}

/** The merchant-facing webhook endpoint API; the merchant comes from the gateway's header. */
export function webhookEndpointService(deps: NotifierDeps): ServiceImpl<typeof WebhookEndpointService> {
  const now = deps.clock ?? (() => new Date());
  const endpointOf = async (merchantId: string, id: string) => {
    const endpoint = id === "" ? undefined : await deps.endpoints.get(merchantId, id);
    if (!endpoint) throw notFound("endpoint");
    return endpoint;
  };
  return {
    async createEndpoint(req, ctx) {
      const merchantId = merchantOf(ctx);
      const description = descriptionOf(req.description);
      const eventTypes = eventTypeFilter(req.eventTypes);
      const url = await checkedUrl(req.url, deps.policy);
      const { endpoint, secret } = await deps.endpoints.create({ merchantId, url, description, eventTypes }, now());
      return { endpoint: toEndpoint(endpoint), secret };
    },

    async getEndpoint(req, ctx) {
      return { endpoint: toEndpoint(await endpointOf(merchantOf(ctx), req.id)) };
    },

    async listEndpoints(req, ctx) {
      const merchantId = merchantOf(ctx);
      const { limit, startingAfter } = paging(req.page);
      const page = await deps.endpoints.list(merchantId, limit, startingAfter);
      return { endpoints: checkedPage(page).map(toEndpoint), hasMore: page.hasMore };
    },

    async updateEndpoint(req, ctx) {
      const merchantId = merchantOf(ctx);
      if (req.updateMask.length === 0) throw invalidArgument("updateMask", "names no field to change");
      const changes: EndpointChanges = {};
      for (const [i, name] of req.updateMask.entries()) {
        const field = MASK_FIELDS[name];
        if (!field)
          throw invalidArgument(`updateMask[${i}]`, `"${name}" is not url, description, event_types or enabled`);
        if (field === "description") changes.description = descriptionOf(req.description);
        if (field === "eventTypes") changes.eventTypes = eventTypeFilter(req.eventTypes);
        if (field === "enabled") changes.enabled = req.enabled;
      }
      // The URL is checked like a new one: a changed target must pass the same address rules.
      if (req.updateMask.includes("url")) changes.url = await checkedUrl(req.url, deps.policy);
      const endpoint = await deps.endpoints.update(merchantId, req.id, changes, now());
      if (!endpoint) throw notFound("endpoint");
      return { endpoint: toEndpoint(endpoint) };
    },

    async deleteEndpoint(req, ctx) {
      if (!(await deps.endpoints.delete(merchantOf(ctx), req.id, now()))) throw notFound("endpoint");
      return {};
    },

    async rotateSecret(req, ctx) {
      const rotation = await deps.endpoints.rotateSecret(merchantOf(ctx), req.id, deps.secretGraceMs, now());
      if (!rotation) throw notFound("endpoint");
      return {
        endpoint: toEndpoint(rotation.endpoint),
        secret: rotation.secret,
        previousSecretExpiresAt: timestampFromDate(rotation.previousSecretExpiresAt),
      };
    },

    async listMessages(req, ctx) {
      const merchantId = merchantOf(ctx);
      const endpointId = req.endpointId === "" ? undefined : (await endpointOf(merchantId, req.endpointId)).id;
      const status = statusFilter(req.status);
      const subjectId = subjectOf("subjectId", req.subjectId);
      const { limit, startingAfter } = paging(req.page);
      const page = await deps.messages.list({ merchantId, endpointId, status, subjectId }, limit, startingAfter);
      return { messages: checkedPage(page).map(toMessage), hasMore: page.hasMore };
    },

    async listAttempts(req, ctx) {
      const merchantId = merchantOf(ctx);
      const message = req.messageId === "" ? undefined : await deps.messages.get(merchantId, req.messageId);
      if (!message) throw notFound("message");
      const { limit, startingAfter } = paging(req.page);
      const page = await deps.messages.attempts(message.id, limit, startingAfter);
      return { attempts: checkedPage(page).map(toAttempt), hasMore: page.hasMore };
    },

    async replayMessage(req, ctx) {
      const merchantId = merchantOf(ctx);
      const result = req.messageId === "" ? "not_found" : await deps.messages.replay(merchantId, req.messageId, now());
      if (result === "not_found") throw notFound("message");
      if (result === "endpoint_inactive") {
        throw appError(
          Code.FailedPrecondition,
          Reason.ENDPOINT_DISABLED,
          "the message's endpoint is disabled or deleted",
        );
      }
      deps.metrics.observeReplays("message", 1);
      deps.onQueued();
      return { message: toMessage(result) };
    },

    async replayMyFailed(req, ctx) {
      const merchantId = merchantOf(ctx);
      const requeued = await deps.messages.replayFailed(merchantId, since(req.since), now());
      deps.metrics.observeReplays("merchant", requeued);
      if (requeued > 0) deps.onQueued();
      return { requeued };
    },
  };
}

async function checkedUrl(url: string, policy: TargetPolicy): Promise<string> {
  const target = await checkTarget(url, policy);
  if (target.ok) return target.url.href;
  if (target.unavailable) throw appError(Code.Unavailable, Reason.UNAVAILABLE, `url: ${target.message}`);
  throw invalidArgument("url", target.message);
}

function descriptionOf(value: string): string {
  if (value.length > MAX_DESCRIPTION)
    throw invalidArgument("description", `is longer than ${MAX_DESCRIPTION} characters`);
  return value;
}

function paging(page: PageRequest | undefined): { limit: number; startingAfter: string | undefined } {
  const limit = page?.limit || DEFAULT_PAGE;
  if (limit < 1 || limit > MAX_PAGE) throw invalidArgument("page.limit", `must be 1-${MAX_PAGE}`);
  const startingAfter = page?.startingAfter || undefined;
  if (startingAfter !== undefined && startingAfter.length > 128) {
    throw invalidArgument("page.startingAfter", "is longer than 128 characters");
  }
  return { limit, startingAfter };
}

function checkedPage<T>(page: Page<T>): T[] {
  if (page.cursorMissing) throw invalidArgument("page.startingAfter", "names nothing in this list");
  return page.items;
}

function since(value: Timestamp | undefined): Date {
  if (!value) throw invalidArgument("since", "is required");
  return timestampDate(value);
}

function statusFilter(status: MessageStatusPb): MessageStatus | undefined {
  switch (status) {
    case MessageStatusPb.UNSPECIFIED:
      return undefined;
    case MessageStatusPb.PENDING:
      return MessageStatus.PENDING;
    case MessageStatusPb.DELIVERED:
      return MessageStatus.DELIVERED;
    case MessageStatusPb.DEAD:
      return MessageStatus.DEAD;
    default:
      throw invalidArgument("status", "is not a message status");
  }
}

const STATUS_PB: Record<MessageStatus, MessageStatusPb> = {
  PENDING: MessageStatusPb.PENDING,
  DELIVERED: MessageStatusPb.DELIVERED,
  DEAD: MessageStatusPb.DEAD,
};

function toMessage(message: MessageView): Message {
  return create(MessageSchema, {
    id: message.id,
    endpointId: message.endpointId,
    eventId: message.eventId,
    eventType: message.eventType,
    status: STATUS_PB[message.status],
    attempts: message.attempts,
    nextAttemptAt: message.status === MessageStatus.PENDING ? timestampFromDate(message.nextAttemptAt) : undefined,
    createdAt: timestampFromDate(message.createdAt),
    deliveredAt: message.deliveredAt ? timestampFromDate(message.deliveredAt) : undefined,
    merchantId: message.merchantId,
    subjectId: message.subjectId ?? "",
  });
}

function toAttempt(attempt: AttemptView): Attempt {
  return create(AttemptSchema, {
    id: attempt.id,
    messageId: attempt.messageId,
    attemptedAt: timestampFromDate(attempt.attemptedAt),
    result: attempt.result,
    statusCode: attempt.statusCode ?? 0,
    latencyMs: attempt.latencyMs,
    error: attempt.error ?? "",
    responseExcerpt: attempt.responseExcerpt ?? "",
  });
}

/** The merchant the gateway authenticated; internal services trust the header. */
function merchantOf(ctx: HandlerContext): string {
  const merchantId = ctx.requestHeader.get(MERCHANT_HEADER)?.trim() ?? "";
  if (merchantId === "" || merchantId.length > 64) {
    throw appError(Code.Unauthenticated, Reason.UNAUTHENTICATED, `missing or invalid ${MERCHANT_HEADER} header`);
  }
  return merchantId;
}

function text(field: string, value: string, max: number): string {
  if (value.trim() === "") throw invalidArgument(field, "is required");
  if (value.length > max) throw invalidArgument(field, `is longer than ${max} characters`);
  return value;
}

/** An optional object id (a payout id, …): undefined when empty. */
function subjectOf(field: string, value: string): string | undefined {
  if (value === "") return undefined;
  if (!SUBJECT_ID.test(value)) throw invalidArgument(field, "must be an id: 1-64 letters, digits, _ or -");
  return value;
}

function eventType(field: string, value: string): string {
  if (value === "") throw invalidArgument(field, "is required");
  if (!EVENT_TYPE.test(value)) throw invalidArgument(field, "must be letters, digits, '.', '_' or '-' (at most 100)");
  return value;
}

function eventTypeFilter(types: readonly string[]): string[] {
  const unique = [...new Set(types)];
  if (unique.length > MAX_EVENT_TYPES) throw invalidArgument("eventTypes", `at most ${MAX_EVENT_TYPES} event types`);
  unique.forEach((type, i) => {
    eventType(`eventTypes[${i}]`, type);
  });
  return unique;
}

function payloadJson(field: string, value: string): string {
  if (value === "") throw invalidArgument(field, "is required");
  if (Buffer.byteLength(value) > MAX_PAYLOAD_BYTES)
    throw invalidArgument(field, `is larger than ${MAX_PAYLOAD_BYTES} bytes`);
  try {
    JSON.parse(value);
  } catch {
    throw invalidArgument(field, "is not valid JSON");
  }
  return value;
}

function toEndpoint(endpoint: EndpointView): Endpoint {
  return create(EndpointSchema, {
    id: endpoint.id,
    merchantId: endpoint.merchantId,
    url: endpoint.url,
    description: endpoint.description,
    eventTypes: endpoint.eventTypes,
    enabled: endpoint.enabled,
    disabledReason: endpoint.disabledReason ?? "",
    createdAt: timestampFromDate(endpoint.createdAt),
    updatedAt: timestampFromDate(endpoint.updatedAt),
  });
}
