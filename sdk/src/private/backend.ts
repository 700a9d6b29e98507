import type {
  Balance,
  CreatePayoutParams,
  CreateWebhookEndpointParams,
  LedgerEntry,
  ListEntriesParams,
  ListMessagesParams,
  ListPayoutsParams,
  Page,
  Payout,
  PayoutTransition,
  UpdateWebhookEndpointParams,
  WebhookAttempt,
  WebhookEndpoint,
  WebhookEndpointWithSecret,
  WebhookMessage,
} from "../types.ts";

/** One attempt of one call: what every backend needs besides the arguments. */
export interface CallContext {
  /** Same for every attempt of a logical call, so the gateway's logs tie retries together. */
  requestId: string;
  /** Create calls only: same for every attempt. */
  idempotencyKey?: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface PageParams {
  limit?: number;
  startingAfter?: string;
}

/**
 * The API as one transport carries it. Implementations return the public shapes and throw only
 * `MyPayError`s, so resources, retries and error handling are the same over every transport.
 */
export interface Backend {
  createPayout(params: Required<CreatePayoutParams>, ctx: CallContext): Promise<Payout>;
  getPayout(id: string, ctx: CallContext): Promise<Payout>;
  listPayouts(params: ListPayoutsParams, ctx: CallContext): Promise<Page<Payout>>;
  cancelPayout(id: string, reason: string, ctx: CallContext): Promise<Payout>;
  payoutHistory(id: string, ctx: CallContext): Promise<PayoutTransition[]>;
  getBalance(currency: string, ctx: CallContext): Promise<Balance>;
  listEntries(params: ListEntriesParams, ctx: CallContext): Promise<Page<LedgerEntry>>;
  createEndpoint(params: CreateWebhookEndpointParams, ctx: CallContext): Promise<WebhookEndpointWithSecret>;
  getEndpoint(id: string, ctx: CallContext): Promise<WebhookEndpoint>;
  listEndpoints(params: PageParams, ctx: CallContext): Promise<Page<WebhookEndpoint>>;
  updateEndpoint(id: string, params: UpdateWebhookEndpointParams, ctx: CallContext): Promise<WebhookEndpoint>;
  deleteEndpoint(id: string, ctx: CallContext): Promise<void>;
  rotateSecret(id: string, ctx: CallContext): Promise<WebhookEndpointWithSecret>;
  listMessages(params: ListMessagesParams, ctx: CallContext): Promise<Page<WebhookMessage>>;
  listAttempts(messageId: string, params: PageParams, ctx: CallContext): Promise<Page<WebhookAttempt>>;
  replayMessage(messageId: string, ctx: CallContext): Promise<WebhookMessage>;
  close(): Promise<void>;
}
