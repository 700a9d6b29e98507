import { ID } from "./rest/fields.ts";
import type { CompiledRoute } from "./rest/route.ts";

/**
 * The OpenAPI 3.1 document served at `/openapi.json`. Operations are listed here by route pattern and
 * method; a test checks that this document and the router list exactly the same operations, and sends
 * every documented example request to a running mesh.
 */

type Schema = Record<string, unknown>;

const ref = (name: string): Schema => ({ $ref: `#/components/schemas/${name}` });
const str = (description?: string, extra: Schema = {}): Schema => ({
  type: "string",
  ...(description ? { description } : {}),
  ...extra,
});
const nullableStr = (description?: string): Schema => ({
  type: ["string", "null"],
  ...(description ? { description } : {}),
});
const time = (): Schema => ({ type: ["string", "null"], format: "date-time" });
const amount = (): Schema => ({
  type: "string",
  pattern: "^-?\\d+(\\.\\d+)?$",
  description: 'Decimal string in the currency\'s units, e.g. "1000.00".',
  examples: ["1000.00"],
});
const list = (item: string): Schema => ({
  type: "object",
  required: ["data", "hasMore"],
  properties: { data: { type: "array", items: ref(item) }, hasMore: { type: "boolean" } },
});
const object = (properties: Record<string, Schema>, required: string[] = Object.keys(properties)): Schema => ({
  type: "object",
  properties,
  required,
});

const PAYOUT_STATUSES = ["PENDING", "PROCESSING", "SUCCESS", "FAILED", "RETRY", "ON_HOLD", "IN_REVIEW", "CANCELLED"];

const schemas: Record<string, Schema> = {
  Error: object({
    error: object(
      {
        type: str("Error family.", {
          enum: [
            "invalid_request_error",
            "authentication_error",
            "permission_error",
            "idempotency_error",
            "rate_limit_error",
            "api_error",
          ],
        }),
        code: str("Machine-readable code, e.g. invalid_argument, not_found, insufficient_funds."),
        message: str("Human-readable explanation; never internals."),
        param: str("The request field or header at fault, when there is one."),
        requestId: str("Also in the X-Request-Id header."),
      },
      ["type", "code", "message", "requestId"],
    ),
  }),
  CreatePayoutRequest: {
    type: "object",
    additionalProperties: false,
    required: ["merchantReference", "amount", "currency", "destType", "bankCode", "accountNumber", "accountTitle"],
    properties: {
      merchantReference: str("Your reference (1-64 characters).", { minLength: 1, maxLength: 64 }),
      amount: {
        oneOf: [
          { type: "string", pattern: "^\\d+(\\.\\d+)?$" },
          { type: "number", exclusiveMinimum: 0 },
        ],
        description: "Greater than 0, at most the currency's decimals (2 for PKR).",
      },
      currency: str("ISO-4217 code.", { minLength: 3, maxLength: 3, examples: ["PKR"] }),
      destType: str(undefined, { enum: ["BANK"] }),
      bankCode: str(undefined, { minLength: 1, maxLength: 16 }),
      accountNumber: str("Digits; the sandbox bank decides by the last four.", { minLength: 1, maxLength: 34 }),
      accountTitle: str(undefined, { minLength: 1, maxLength: 128 }),
    },
  },
  Payout: object({
    id: str(undefined, { examples: ["po_…"] }),
    status: str(undefined, { enum: PAYOUT_STATUSES }),
    amount: amount(),
    currency: str(),
    merchantReference: str(),
    destType: str(),
    bankCode: str(),
    accountNumber: str(),
    accountTitle: str(),
    pspReference: nullableStr("The bank's reference once SUCCESS."),
    failureCode: nullableStr(),
    failureMessage: nullableStr(),
    attempts: { type: "integer" },
    createdAt: time(),
    updatedAt: time(),
    processedAt: time(),
  }),
  PayoutList: list("Payout"),
  Reason: {
    type: "object",
    additionalProperties: false,
    properties: { reason: str(undefined, { maxLength: 500 }) },
  },
  Transition: object({
    from: str(undefined, { enum: [...PAYOUT_STATUSES, "UNSPECIFIED"] }),
    to: str(undefined, { enum: PAYOUT_STATUSES }),
    reason: str(),
    actor: str("merchant:<id>, admin:<key id> or system:processor."),
    at: time(),
  }),
  TransitionList: object({ data: { type: "array", items: ref("Transition") } }),
  Balance: object({ currency: str(), balance: amount(), locked: amount(), available: amount() }),
  Entry: object({
    id: str(),
    transferId: str(),
    account: str(undefined, { enum: ["AVAILABLE", "LOCKED", "FUNDING", "SETTLEMENT", "UNSPECIFIED"] }),
    currency: str(),
    amount: amount(),
    transferKind: str("topup, hold, capture or release."),
    holdId: nullableStr(),
    createdAt: time(),
  }),
  EntryList: list("Entry"),
  CreateEndpointRequest: {
    type: "object",
    additionalProperties: false,
    required: ["url"],
    properties: {
      url: str(undefined, { format: "uri", maxLength: 2048 }),
      description: str(undefined, { maxLength: 1024 }),
      eventTypes: { type: "array", items: str(), maxItems: 50 },
    },
  },
  UpdateEndpointRequest: {
    type: "object",
    additionalProperties: false,
    properties: {
      url: str(undefined, { format: "uri", maxLength: 2048 }),
      description: str(undefined, { maxLength: 1024 }),
      eventTypes: { type: "array", items: str(), maxItems: 50 },
      enabled: { type: "boolean" },
    },
  },
  Endpoint: object({
    id: str(),
    url: str(),
    description: str(),
    eventTypes: { type: "array", items: str() },
    enabled: { type: "boolean" },
    disabledReason: nullableStr(),
    createdAt: time(),
    updatedAt: time(),
  }),
  EndpointWithSecret: {
    allOf: [ref("Endpoint"), object({ secret: str("whsec_…; shown only here.") })],
  },
  RotatedEndpoint: {
    allOf: [ref("Endpoint"), object({ secret: str(), previousSecretExpiresAt: time() })],
  },
  EndpointList: list("Endpoint"),
  Deleted: object({ id: str(), deleted: { type: "boolean" } }),
  Message: {
    type: "object",
    required: ["id", "endpointId", "eventId", "eventType", "status", "attempts"],
    properties: {
      id: str("Also the webhook-id header."),
      endpointId: str(),
      eventId: str(),
      eventType: str(),
      subjectId: nullableStr(
        "Id of the object the event is about: the payout id for payout.updated, the endpoint id for endpoint.disabled.",
      ),
      status: str(undefined, { enum: ["PENDING", "DELIVERED", "DEAD", "UNSPECIFIED"] }),
      attempts: { type: "integer" },
      nextAttemptAt: time(),
      createdAt: time(),
      deliveredAt: time(),
      merchantId: str("Admin views only."),
    },
  },
  MessageList: list("Message"),
  Attempt: object({
    id: str(),
    messageId: str(),
    attemptedAt: time(),
    result: str("delivered, http_error, timeout, network_error or refused."),
    statusCode: { type: "integer" },
    latencyMs: { type: "integer" },
    error: nullableStr(),
    responseExcerpt: nullableStr(),
  }),
  AttemptList: list("Attempt"),
  ReplayFailedRequest: {
    type: "object",
    additionalProperties: false,
    required: ["since"],
    properties: { since: str(undefined, { format: "date-time" }) },
  },
  AdminReplayRequest: {
    type: "object",
    additionalProperties: false,
    required: ["since"],
    properties: { merchantId: str(), since: str(undefined, { format: "date-time" }) },
  },
  Requeued: object({ requeued: { type: "integer" } }),
  MeshStatus: object({
    checkedAt: str(undefined, { format: "date-time" }),
    services: {
      type: "array",
      items: object({
        name: str(),
        status: str(undefined, { enum: ["ready", "not_ready", "unreachable"] }),
        latencyMs: { type: "integer" },
      }),
    },
    processorLagSeconds: { type: ["number", "null"], description: "Age of the oldest due payout." },
    outboxBacklog: { type: ["number", "null"], description: "Payout events not yet relayed." },
  }),
  CreateMerchantRequest: {
    type: "object",
    additionalProperties: false,
    required: ["name"],
    properties: { id: str("Generated when omitted.", { pattern: "^[A-Za-z0-9_-]{1,64}$" }), name: str() },
  },
  Merchant: object({ id: str(), name: str(), createdAt: str(undefined, { format: "date-time" }) }),
  MerchantList: list("Merchant"),
  TopUpRequest: {
    type: "object",
    additionalProperties: false,
    required: ["amount", "currency"],
    properties: {
      amount: { oneOf: [{ type: "string" }, { type: "number" }] },
      currency: str(undefined, { minLength: 3, maxLength: 3 }),
    },
  },
  TopUp: { allOf: [object({ merchantId: str() }), ref("Balance")] },
  ApiKey: object({
    id: str(),
    merchantId: str(),
    prefix: str("The key's first characters, to tell keys apart."),
    createdAt: str(undefined, { format: "date-time" }),
    revokedAt: time(),
  }),
  ApiKeyWithSecret: { allOf: [ref("ApiKey"), object({ key: str("mypay_test_…; shown only here.") })] },
  ApiKeyList: list("ApiKey"),
};

const ERRORS: Record<string, string> = {
  "400": "Invalid request: malformed JSON, wrong types, unknown fields, invalid values (`param` names the field).",
  "401": "Missing or unknown API key.",
  "404": "No such object (or one of another merchant).",
  "405": "Method not allowed on this path.",
  "409": "Conflict: idempotency key still in flight, illegal state transition, or already exists.",
  "413": "Body too large.",
  "415": "Content-Type is not application/json.",
  "422": "Idempotency key reused with another body, or insufficient funds.",
  "429": "Rate limited; see Retry-After and RateLimit-* headers.",
  "500": "Internal error; no internals are disclosed.",
  "501": "Operation not available yet.",
  "503": "A service is unavailable or its backlog is full; see Retry-After.",
  "504": "The deadline passed; safe to retry with the same idempotency key.",
};

const errorResponses = (codes: string[]) =>
  Object.fromEntries(codes.map((c) => [c, { $ref: `#/components/responses/E${c}` }]));

/** How each operation is documented: summary, body, success response, and an example request. */
interface Doc {
  summary: string;
  operationId: string;
  body?: string;
  bodyRequired?: boolean;
  idempotent?: boolean;
  status: number;
  response: string;
  query?: Record<string, Schema>;
  tags: string[];
  /** A request that, sent to a fresh sandbox mesh, answers `status`. */
  example?: { body?: unknown; headers?: Record<string, string> };
}

const page = {
  limit: { type: "integer", minimum: 1, maximum: 100, default: 20 },
  startingAfter: str("Id of the last item of the previous page."),
};
const statusQuery = { status: str(`Comma-separated statuses: ${PAYOUT_STATUSES.join(", ")}.`) };

const EXAMPLE_PAYOUT = {
  merchantReference: "order-1001",
  amount: "1000.00",
  currency: "PKR",
  destType: "BANK",
  bankCode: "HBL",
  accountNumber: "1234560001",
  accountTitle: "Ali Khan",
};

/** Documentation of every operation, keyed `METHOD path`. */
export const OPERATIONS: Record<string, Doc> = {
  "POST /api/v1/payouts": {
    summary: "Create a payout and lock its amount",
    operationId: "createPayout",
    body: "CreatePayoutRequest",
    bodyRequired: true,
    idempotent: true,
    status: 201,
    response: "Payout",
    tags: ["payouts"],
    example: { body: EXAMPLE_PAYOUT, headers: { "X-IDEMPOTENCY-KEY": "order-1001" } },
  },
  "GET /api/v1/payouts": {
    summary: "List payouts, newest first",
    operationId: "listPayouts",
    status: 200,
    response: "PayoutList",
    query: { ...page, ...statusQuery },
    tags: ["payouts"],
  },
  "GET /api/v1/payouts/{id}": {
    summary: "Get a payout",
    operationId: "getPayout",
    status: 200,
    response: "Payout",
    tags: ["payouts"],
  },
  "POST /api/v1/payouts/{id}/cancel": {
    summary: "Cancel a PENDING, IN_REVIEW or ON_HOLD payout",
    operationId: "cancelPayout",
    body: "Reason",
    status: 200,
    response: "Payout",
    tags: ["payouts"],
  },
  "GET /api/v1/payouts/{id}/history": {
    summary: "Status changes of a payout, oldest first",
    operationId: "getPayoutHistory",
    status: 200,
    response: "TransitionList",
    tags: ["payouts"],
  },
  "GET /api/v1/balance": {
    summary: "Balance in one currency (balance = available + locked)",
    operationId: "getBalance",
    status: 200,
    response: "Balance",
    query: { currency: str(undefined, { default: "PKR" }) },
    tags: ["ledger"],
    example: {},
  },
  "GET /api/v1/ledger/entries": {
    summary: "Ledger entries, newest first",
    operationId: "listLedgerEntries",
    status: 200,
    response: "EntryList",
    query: { ...page, currency: str(), account: str(undefined, { enum: ["AVAILABLE", "LOCKED"] }) },
    tags: ["ledger"],
  },
  "POST /api/v1/webhook-endpoints": {
    summary: "Register a webhook endpoint (the secret is shown once)",
    operationId: "createWebhookEndpoint",
    body: "CreateEndpointRequest",
    bodyRequired: true,
    status: 201,
    response: "EndpointWithSecret",
    tags: ["webhooks"],
    example: { body: { url: "http://127.0.0.1:9000/webhooks" } },
  },
  "GET /api/v1/webhook-endpoints": {
    summary: "List webhook endpoints",
    operationId: "listWebhookEndpoints",
    status: 200,
    response: "EndpointList",
    query: page,
    tags: ["webhooks"],
  },
  "GET /api/v1/webhook-endpoints/{id}": {
    summary: "Get a webhook endpoint",
    operationId: "getWebhookEndpoint",
    status: 200,
    response: "Endpoint",
    tags: ["webhooks"],
  },
  "PATCH /api/v1/webhook-endpoints/{id}": {
    summary: "Change the fields sent",
    operationId: "updateWebhookEndpoint",
    body: "UpdateEndpointRequest",
    bodyRequired: true,
    status: 200,
    response: "Endpoint",
    tags: ["webhooks"],
  },
  "DELETE /api/v1/webhook-endpoints/{id}": {
    summary: "Delete a webhook endpoint",
    operationId: "deleteWebhookEndpoint",
    status: 200,
    response: "Deleted",
    tags: ["webhooks"],
  },
  "POST /api/v1/webhook-endpoints/{id}/rotate-secret": {
    summary: "New signing secret; the old one keeps signing for a grace period",
    operationId: "rotateWebhookSecret",
    status: 200,
    response: "RotatedEndpoint",
    tags: ["webhooks"],
  },
  "GET /api/v1/webhook-messages": {
    summary: "Webhook messages with their delivery state",
    operationId: "listWebhookMessages",
    status: 200,
    response: "MessageList",
    query: {
      ...page,
      endpointId: str(),
      status: str(undefined, { enum: ["PENDING", "DELIVERED", "DEAD"] }),
      payoutId: str("Only the messages of this payout's payout.updated events (another merchant's id matches none).", {
        pattern: ID.source,
      }),
    },
    tags: ["webhooks"],
  },
  "GET /api/v1/webhook-messages/{id}/attempts": {
    summary: "Delivery attempts of a message",
    operationId: "listWebhookAttempts",
    status: 200,
    response: "AttemptList",
    query: page,
    tags: ["webhooks"],
  },
  "POST /api/v1/webhook-messages/{id}/replay": {
    summary: "Deliver a message again (same webhook-id)",
    operationId: "replayWebhookMessage",
    status: 202,
    response: "Message",
    tags: ["webhooks"],
  },
  "POST /api/v1/webhook-messages/replay-failed": {
    summary: "Re-queue your failed and dead-lettered messages since a time",
    operationId: "replayFailedWebhookMessages",
    body: "ReplayFailedRequest",
    bodyRequired: true,
    status: 202,
    response: "Requeued",
    tags: ["webhooks"],
  },
  "GET /api/v1/admin/payouts": {
    summary: "Payouts of every merchant",
    operationId: "adminListPayouts",
    status: 200,
    response: "PayoutList",
    query: { ...page, ...statusQuery, merchantId: str() },
    tags: ["admin"],
  },
  "GET /api/v1/admin/review-queue": {
    summary: "Payouts waiting for review (IN_REVIEW)",
    operationId: "adminReviewQueue",
    status: 200,
    response: "PayoutList",
    query: { ...page, merchantId: str() },
    tags: ["admin"],
  },
  "POST /api/v1/admin/payouts/{id}/approve": {
    summary: "Approve a payout in review (IN_REVIEW → PENDING)",
    operationId: "adminApprovePayout",
    body: "Reason",
    status: 200,
    response: "Payout",
    tags: ["admin"],
  },
  "POST /api/v1/admin/payouts/{id}/reject": {
    summary: "Reject a payout in review (→ FAILED, funds released); reason required",
    operationId: "adminRejectPayout",
    body: "Reason",
    bodyRequired: true,
    status: 200,
    response: "Payout",
    tags: ["admin"],
  },
  "POST /api/v1/admin/payouts/{id}/release-hold": {
    summary: "Release an ON_HOLD payout (→ PENDING)",
    operationId: "adminReleaseHold",
    body: "Reason",
    status: 200,
    response: "Payout",
    tags: ["admin"],
  },
  "POST /api/v1/admin/payouts/{id}/fail-hold": {
    summary: "Fail an ON_HOLD payout (→ FAILED, funds released); reason required",
    operationId: "adminFailHold",
    body: "Reason",
    bodyRequired: true,
    status: 200,
    response: "Payout",
    tags: ["admin"],
  },
  "POST /api/v1/admin/merchants": {
    summary: "Create a merchant",
    operationId: "adminCreateMerchant",
    body: "CreateMerchantRequest",
    bodyRequired: true,
    status: 201,
    response: "Merchant",
    tags: ["admin"],
    example: { body: { name: "Example merchant" } },
  },
  "GET /api/v1/admin/merchants": {
    summary: "List merchants",
    operationId: "adminListMerchants",
    status: 200,
    response: "MerchantList",
    query: page,
    tags: ["admin"],
    example: {},
  },
  "POST /api/v1/admin/merchants/{id}/top-ups": {
    summary: "Top up a merchant's balance from the platform funding account",
    operationId: "adminTopUp",
    body: "TopUpRequest",
    bodyRequired: true,
    idempotent: true,
    status: 201,
    response: "TopUp",
    tags: ["admin"],
  },
  "POST /api/v1/admin/merchants/{id}/api-keys": {
    summary: "Create an API key for a merchant (the key is shown once)",
    operationId: "adminCreateApiKey",
    status: 201,
    response: "ApiKeyWithSecret",
    tags: ["admin"],
  },
  "GET /api/v1/admin/api-keys": {
    summary: "List API keys (never the keys themselves)",
    operationId: "adminListApiKeys",
    status: 200,
    response: "ApiKeyList",
    query: { ...page, merchantId: str() },
    tags: ["admin"],
    example: {},
  },
  "POST /api/v1/admin/api-keys/{id}/revoke": {
    summary: "Revoke an API key, effective at once",
    operationId: "adminRevokeApiKey",
    status: 200,
    response: "ApiKey",
    tags: ["admin"],
  },
  "GET /api/v1/admin/dead-letters": {
    summary: "Dead-lettered webhook messages of every merchant",
    operationId: "adminListDeadLetters",
    status: 200,
    response: "MessageList",
    query: { ...page, merchantId: str() },
    tags: ["admin"],
  },
  "POST /api/v1/admin/dead-letters/replay": {
    summary: "Re-queue failed and dead-lettered messages",
    operationId: "adminReplayDeadLetters",
    body: "AdminReplayRequest",
    bodyRequired: true,
    status: 202,
    response: "Requeued",
    tags: ["admin"],
  },
  "GET /api/v1/admin/mesh-status": {
    summary: "Each service's readiness, the payout processor's lag and the outbox backlog",
    operationId: "adminMeshStatus",
    status: 200,
    response: "MeshStatus",
    tags: ["admin"],
  },
};

const rateLimitHeaders = {
  "RateLimit-Limit": { $ref: "#/components/headers/RateLimitLimit" },
  "RateLimit-Remaining": { $ref: "#/components/headers/RateLimitRemaining" },
  "RateLimit-Reset": { $ref: "#/components/headers/RateLimitReset" },
  "X-Request-Id": { $ref: "#/components/headers/RequestId" },
};

function operation(method: string, path: string, route: CompiledRoute, doc: Doc): Schema {
  const admin = route.auth === "admin";
  const parameters: Schema[] = route.params.map((name) => ({
    name,
    in: "path",
    required: true,
    schema: { type: "string", minLength: 1, maxLength: 64 },
  }));
  for (const [name, schema] of Object.entries(doc.query ?? {})) parameters.push({ name, in: "query", schema });
  if (doc.idempotent) {
    parameters.push({
      name: "X-IDEMPOTENCY-KEY",
      in: "header",
      description: "Required (or Idempotency-Key). The same key and body answer the first result again.",
      schema: { type: "string", maxLength: 128 },
    });
    parameters.push({ name: "Idempotency-Key", in: "header", schema: { type: "string", maxLength: 128 } });
  }
  parameters.push({ $ref: "#/components/parameters/RequestId" });
  const codes = ["400", "401", "500", "503", "504"];
  if (route.params.length > 0) codes.push("404", "409");
  if (doc.body) codes.push("413", "415");
  if (doc.idempotent) codes.push("409", "422");
  if (!admin) codes.push("429");
  if (path.startsWith("/api/v1/payouts")) codes.push("422");
  const success: Schema = {
    description: doc.summary,
    headers: {
      ...(admin ? { "X-Request-Id": rateLimitHeaders["X-Request-Id"] } : rateLimitHeaders),
      ...(doc.idempotent
        ? {
            "Idempotent-Replayed": {
              description: "true when this repeats the first result.",
              schema: { type: "string" },
            },
          }
        : {}),
    },
    content: { "application/json": { schema: ref(doc.response) } },
  };
  return {
    operationId: doc.operationId,
    summary: doc.summary,
    tags: doc.tags,
    security: [{ [admin ? "AdminKey" : "ApiKey"]: [] }],
    parameters,
    ...(doc.body
      ? {
          requestBody: {
            required: doc.bodyRequired ?? false,
            content: {
              "application/json": {
                schema: ref(doc.body),
                ...(doc.example?.body ? { example: doc.example.body } : {}),
              },
            },
          },
        }
      : {}),
    responses: { [String(doc.status)]: success, ...errorResponses([...new Set(codes)].sort()) },
    ...(doc.example ? { "x-mypay-example": { ...doc.example, status: doc.status, method, path } } : {}),
  };
}

/** Builds the document from the router's routes; throws if a route is undocumented. */
export function openApiDocument(routes: CompiledRoute[]): Schema {
  const paths: Record<string, Record<string, Schema>> = {};
  for (const route of routes) {
    const key = `${route.method} ${route.path}`;
    const doc = OPERATIONS[key];
    if (!doc) throw new Error(`route ${key} has no OpenAPI documentation`);
    paths[route.path] ??= {};
    paths[route.path]![route.method.toLowerCase()] = operation(route.method, route.path, route, doc);
  }
  const header = (description: string, type = "integer"): Schema => ({ description, schema: { type } });
  return {
    openapi: "3.1.0",
    info: {
      title: "MyPay API",
      version: "1.0.0",
      description:
        "Sandbox payouts: create payouts from your balance, follow them, and receive signed webhooks. " +
        "Amounts are decimal strings in the currency's units. The same API is served over gRPC, Connect and gRPC-Web.",
    },
    servers: [{ url: "http://127.0.0.1:8080", description: "Local sandbox (npm start)" }],
    tags: [
      { name: "payouts" },
      { name: "ledger" },
      { name: "webhooks" },
      { name: "admin", description: "Operations staff only: the admin API key." },
    ],
    paths,
    components: {
      schemas,
      securitySchemes: {
        ApiKey: { type: "apiKey", in: "header", name: "X-API-KEY", description: "A merchant key, mypay_test_…" },
        AdminKey: { type: "apiKey", in: "header", name: "X-API-KEY", description: "The admin key, mypay_admin_…" },
      },
      parameters: {
        RequestId: {
          name: "X-Request-Id",
          in: "header",
          description: "Echoed (when 1-128 of A-Z a-z 0-9 . _ : -) in the response, else a fresh id is made.",
          schema: { type: "string", maxLength: 128 },
        },
      },
      headers: {
        RateLimitLimit: header("Size of the merchant's bucket for this kind of request (reads or writes)."),
        RateLimitRemaining: header("Requests left in the bucket now."),
        RateLimitReset: header("Seconds until the bucket is full again."),
        RetryAfter: header("Seconds to wait before retrying."),
        RequestId: header("The request id (also in error bodies).", "string"),
      },
      responses: Object.fromEntries(
        Object.entries(ERRORS).map(([code, description]) => [
          `E${code}`,
          {
            description,
            headers: {
              "X-Request-Id": { $ref: "#/components/headers/RequestId" },
              ...(code === "429" || code === "503"
                ? { "Retry-After": { $ref: "#/components/headers/RetryAfter" } }
                : {}),
            },
            content: { "application/json": { schema: ref("Error") } },
          },
        ]),
      ),
    },
  };
}
