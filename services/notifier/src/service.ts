import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { appError, Code, invalidArgument, MERCHANT_HEADER, Reason } from "@mypay/kit";
import {
  type Endpoint,
  EndpointSchema,
  type NotifierService,
  type WebhookEndpointService,
} from "@mypay/proto/mypay/notifier/v1/notifier";
import { checkTarget, type TargetPolicy } from "./delivery/target-guard.ts";
import type { EndpointStore, EndpointView } from "./store/endpoint-store.ts";
import type { EventStore, NewEvent } from "./store/event-store.ts";

/** Events accepted by one Publish call. */
export const MAX_EVENTS_PER_CALL = 1000;
/** Largest payload: what a MySQL TEXT column holds. */
export const MAX_PAYLOAD_BYTES = 65_535;
const MAX_EVENT_TYPES = 50;
const EVENT_TYPE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;

export interface NotifierDeps {
  endpoints: EndpointStore;
  events: EventStore;
  policy: TargetPolicy;
  /** Called after a Publish queued messages, to start delivering them at once. */
  onQueued: () => void;
}

/** Internal RPCs (events in, dead letters). Thin: validates input, calls the stores. */
export function notifierService(deps: NotifierDeps): Partial<ServiceImpl<typeof NotifierService>> {
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
          occurredAt: event.occurredAt ? timestampDate(event.occurredAt) : new Date(),
          payload: payloadJson(field("payloadJson"), event.payloadJson),
        };
      });
      const { accepted, queued } = await deps.events.publish(events);
      if (queued > 0) deps.onQueued();
      return { accepted };
    },
  };
}

/** The merchant-facing webhook endpoint API; the merchant comes from the gateway's header. */
export function webhookEndpointService(deps: NotifierDeps): Partial<ServiceImpl<typeof WebhookEndpointService>> {
  return {
    async createEndpoint(req, ctx) {
      const merchantId = merchantOf(ctx);
      if (req.description.length > 200) throw invalidArgument("description", "is longer than 200 characters");
      const eventTypes = eventTypeFilter(req.eventTypes);
      const target = await checkTarget(req.url, deps.policy);
      if (!target.ok) {
        if (target.unavailable) throw appError(Code.Unavailable, Reason.UNAVAILABLE, `url: ${target.message}`);
        throw invalidArgument("url", target.message);
      }
      const { endpoint, secret } = await deps.endpoints.create({
        merchantId,
        url: target.url.href,
        description: req.description,
        eventTypes,
      });
      return { endpoint: toEndpoint(endpoint), secret };
    },
  };
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
    createdAt: timestampFromDate(endpoint.createdAt),
  });
}
