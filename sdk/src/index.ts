/**
 * `@mypay/sdk`: the MyPay API client and webhook helpers. Runs in Node.js, Deno, Bun, browsers and
 * edge workers (the `grpc` transport is Node.js only and loaded on demand). Test helpers that need
 * Node.js live in `@mypay/sdk/testing`.
 */
export {
  AdminApiKeys,
  AdminDeadLetters,
  AdminMerchants,
  AdminPayouts,
  type ApiKey,
  type ApiKeyWithSecret,
  type DeadLetter,
  type Merchant,
  type MeshStatus,
  MyPayAdmin,
  type MyPayAdminOptions,
  type ServiceHealth,
  type TopUpResult,
} from "./admin.ts";
export {
  BalanceResource,
  MyPay,
  type MyPayOptions,
  Payouts,
  type TransportName,
  VERSION,
  WebhookEndpoints,
} from "./client.ts";
export {
  ApiConnectionError,
  AuthenticationError,
  IdempotencyError,
  InsufficientFundsError,
  InvalidRequestError,
  MyPayError,
  type MyPayErrorInit,
  NotFoundError,
  RateLimitError,
} from "./errors.ts";
export { isPayoutUpdatedEvent, type PayoutUpdatedEvent, type WebhookEvent } from "./events.ts";
export { WEBHOOK_FIXTURES, type WebhookFixtureName, webhookFixture } from "./fixtures.ts";
export { newIdempotencyKey } from "./ids.ts";
export { addAmounts, compareAmounts, currencyExponent, formatAmount, fromMinorUnits, toMinorUnits } from "./money.ts";
export { PageIterator } from "./pagination.ts";
export {
  type Balance,
  type CreatePayoutParams,
  type CreateWebhookEndpointParams,
  type IdempotentRequestOptions,
  type LedgerEntry,
  type ListEntriesParams,
  type ListMessagesParams,
  type ListPayoutsParams,
  PAYOUT_STATUSES,
  type Page,
  type Payout,
  type PayoutStatus,
  type PayoutTransition,
  type RequestOptions,
  type UpdateWebhookEndpointParams,
  type WebhookAttempt,
  type WebhookEndpoint,
  type WebhookEndpointWithSecret,
  type WebhookMessage,
  type WebhookMessageStatus,
} from "./types.ts";
export {
  generateTestHeaders,
  signWebhook,
  type TestHeaderOptions,
  type VerifyOptions,
  verifyWebhook,
  type WebhookHeaders,
  WebhookVerificationError,
  webhooks,
} from "./webhooks.ts";
