import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { isoTime } from "@mypay/kit";
import { type MessageStatus, MessageStatusSchema } from "@mypay/proto/mypay/notifier/v1/notifier";
import { callOptions, type Downstream } from "../downstream.ts";
import {
  asObject,
  booleanField,
  enumValue,
  pageQuery,
  queryId,
  queryString,
  stringArrayField,
  stringField,
  timeField,
} from "./fields.ts";
import type { RouteContext } from "./http.ts";
import { enumByName, type Route } from "./route.ts";
import { attemptView, endpointView, messageView } from "./views.ts";

const MESSAGE_STATUSES = enumByName(MessageStatusSchema);
const ENDPOINT_FIELDS = ["url", "description", "eventTypes", "enabled"] as const;
/** REST field → the notifier's update_mask name. */
const MASK: Record<string, string> = {
  url: "url",
  description: "description",
  eventTypes: "event_types",
  enabled: "enabled",
};

/** Webhook endpoints (CRUD, secret rotation) and their messages, attempts and replays. */
export function webhookRoutes(down: Downstream): Route[] {
  const opts = (ctx: RouteContext) => callOptions(ctx.merchantId, ctx.requestId, ctx.timeoutMs);
  return [
    {
      method: "POST",
      path: "/api/v1/webhook-endpoints",
      auth: "merchant",
      async handle(ctx) {
        const body = asObject(await ctx.body(), ["url", "description", "eventTypes"]);
        const res = await down.webhooks.createEndpoint(
          {
            url: stringField(body, "url", { max: 2048 }),
            description: stringField(body, "description", { required: false }),
            eventTypes: stringArrayField(body, "eventTypes"),
          },
          opts(ctx),
        );
        return { status: 201, body: { ...endpointView(res.endpoint), secret: res.secret } };
      },
    },
    {
      method: "GET",
      path: "/api/v1/webhook-endpoints",
      auth: "merchant",
      async handle(ctx) {
        const res = await down.webhooks.listEndpoints({ page: pageQuery(ctx.query) }, opts(ctx));
        return { status: 200, body: { data: res.endpoints.map(endpointView), hasMore: res.hasMore } };
      },
    },
    {
      method: "GET",
      path: "/api/v1/webhook-endpoints/{id}",
      auth: "merchant",
      async handle(ctx) {
        const res = await down.webhooks.getEndpoint({ id: ctx.params.id }, opts(ctx));
        return { status: 200, body: endpointView(res.endpoint) };
      },
    },
    {
      method: "PATCH",
      path: "/api/v1/webhook-endpoints/{id}",
      auth: "merchant",
      async handle(ctx) {
        const body = asObject(await ctx.body(), ENDPOINT_FIELDS);
        const res = await down.webhooks.updateEndpoint(
          {
            id: ctx.params.id,
            updateMask: Object.keys(body)
              .filter((k) => body[k] !== undefined)
              .map((k) => MASK[k] ?? k),
            url: stringField(body, "url", { required: "url" in body, max: 2048 }),
            description: stringField(body, "description", { required: false }),
            eventTypes: stringArrayField(body, "eventTypes"),
            enabled: booleanField(body, "enabled") ?? false,
          },
          opts(ctx),
        );
        return { status: 200, body: endpointView(res.endpoint) };
      },
    },
    {
      method: "DELETE",
      path: "/api/v1/webhook-endpoints/{id}",
      auth: "merchant",
      async handle(ctx) {
        await down.webhooks.deleteEndpoint({ id: ctx.params.id }, opts(ctx));
        return { status: 200, body: { id: ctx.params.id, deleted: true } };
      },
    },
    {
      method: "POST",
      path: "/api/v1/webhook-endpoints/{id}/rotate-secret",
      auth: "merchant",
      async handle(ctx) {
        asObject(await ctx.optionalBody(), []);
        const res = await down.webhooks.rotateSecret({ id: ctx.params.id }, opts(ctx));
        return {
          status: 200,
          body: {
            ...endpointView(res.endpoint),
            secret: res.secret,
            previousSecretExpiresAt: isoTime(res.previousSecretExpiresAt),
          },
        };
      },
    },
    {
      method: "GET",
      path: "/api/v1/webhook-messages",
      auth: "merchant",
      async handle(ctx) {
        const statusText = ctx.query.get("status");
        const status = statusText
          ? enumValue<MessageStatus>("status", statusText.toUpperCase(), MESSAGE_STATUSES)
          : undefined;
        const res = await down.webhooks.listMessages(
          {
            endpointId: queryString(ctx.query, "endpointId"),
            subjectId: queryId(ctx.query, "payoutId"),
            page: pageQuery(ctx.query),
            ...(status ? { status } : {}),
          },
          opts(ctx),
        );
        return { status: 200, body: { data: res.messages.map(messageView), hasMore: res.hasMore } };
      },
    },
    {
      method: "GET",
      path: "/api/v1/webhook-messages/{id}/attempts",
      auth: "merchant",
      async handle(ctx) {
        const res = await down.webhooks.listAttempts(
          { messageId: ctx.params.id, page: pageQuery(ctx.query) },
          opts(ctx),
        );
        return { status: 200, body: { data: res.attempts.map(attemptView), hasMore: res.hasMore } };
      },
    },
    {
      method: "POST",
      path: "/api/v1/webhook-messages/{id}/replay",
      auth: "merchant",
      async handle(ctx) {
        asObject(await ctx.optionalBody(), []);
        const res = await down.webhooks.replayMessage({ messageId: ctx.params.id }, opts(ctx));
        return { status: 202, body: messageView(res.message) };
      },
    },
    {
      method: "POST",
      path: "/api/v1/webhook-messages/replay-failed",
      auth: "merchant",
      async handle(ctx) {
        const body = asObject(await ctx.body(), ["since"]);
        const since = timeField(body, "since", true);
        const res = await down.webhooks.replayMyFailed({ since: timestampFromDate(since) }, opts(ctx));
        return { status: 202, body: { requeued: res.requeued } };
      },
    },
  ];
}
