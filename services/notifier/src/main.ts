import { createLogger, createMetrics, loadConfig, onShutdown, openDatabase, startRpcServer } from "@mypay/kit";
import { NotifierService, WebhookEndpointService } from "@mypay/proto/mypay/notifier/v1/notifier";
import { notifierSettings } from "./config.ts";
import { DeliveryLoop, scheduleDeliveries } from "./delivery/delivery-loop.ts";
import { createDeliveryMetrics } from "./delivery/delivery-metrics.ts";
import { announceDisabled } from "./delivery/endpoint-disabled.ts";
import { systemResolver, type TargetPolicy } from "./delivery/target-guard.ts";
import { WebhookSender } from "./delivery/webhook-sender.ts";
import { notifierService, webhookEndpointService } from "./service.ts";
import { BacklogLimit } from "./store/backlog-limit.ts";
import { DeliveryStore } from "./store/delivery-store.ts";
import { EndpointStore } from "./store/endpoint-store.ts";
import { entities } from "./store/entities.ts";
import { EventStore } from "./store/event-store.ts";
import { MessageStore } from "./store/message-store.ts";
import { migrations } from "./store/migrations/index.ts";

const HOUR_MS = 3_600_000;

const config = loadConfig(notifierSettings, "notifier");
const logger = createLogger("notifier", config.LOG_LEVEL);
const metrics = createMetrics("notifier");
const db = await openDatabase({
  service: "notifier",
  settings: config,
  entities,
  migrations,
  logger,
  poolSize: config.NOTIFIER_DB_POOL,
});
const policy: TargetPolicy = { allowLoopback: config.NOTIFIER_ALLOW_LOOPBACK, resolve: systemResolver };
const deliveries = new DeliveryStore(db);
// The loop (made below, once the events exist) sends what this process publishes without claiming it.
let loop: DeliveryLoop | undefined;
const events = new EventStore(db, config.NOTIFIER_RETRY_SCHEDULE, {
  handoff: {
    leaseMs: DeliveryLoop.leaseFor(config.NOTIFIER_TIMEOUT_MS, config.NOTIFIER_LEASE_MARGIN_MS),
    deliver: (messages) => loop?.handoff(messages),
    admit: () => loop?.admission() ?? (() => false),
  },
});
const deliveryMetrics = createDeliveryMetrics(metrics.registry, () => deliveries.queueDepth(), logger);
const sender = new WebhookSender({
  policy,
  timeoutMs: config.NOTIFIER_TIMEOUT_MS,
  retryAfterCapMs: config.NOTIFIER_RETRY_AFTER_MAX,
});
loop = new DeliveryLoop({
  store: deliveries,
  sender,
  logger,
  metrics: deliveryMetrics,
  retrySchedule: config.NOTIFIER_RETRY_SCHEDULE,
  batchSize: config.NOTIFIER_BATCH_SIZE,
  concurrency: config.NOTIFIER_CONCURRENCY,
  endpointConcurrency: config.NOTIFIER_ENDPOINT_CONCURRENCY,
  timeoutMs: config.NOTIFIER_TIMEOUT_MS,
  leaseMarginMs: config.NOTIFIER_LEASE_MARGIN_MS,
  disableAfterMs: config.NOTIFIER_DISABLE_AFTER_HOURS * HOUR_MS,
  onEndpointsDisabled: announceDisabled(events, () => loop?.wake()),
});
const server = await startRpcServer({
  port: config.NOTIFIER_PORT,
  host: config.NOTIFIER_HOST,
  logger,
  registry: metrics.registry,
  interceptors: [metrics.serverInterceptor],
  routes: (router) => {
    const deps = {
      endpoints: new EndpointStore(db),
      events,
      messages: new MessageStore(db),
      backlog: new BacklogLimit(() => deliveries.pendingCount(), config.NOTIFIER_MAX_BACKLOG),
      policy,
      metrics: deliveryMetrics,
      secretGraceMs: config.NOTIFIER_SECRET_GRACE_HOURS * HOUR_MS,
      onQueued: () => loop.wake(),
    };
    router.service(NotifierService, notifierService(deps));
    router.service(WebhookEndpointService, webhookEndpointService(deps));
  },
  ready: () => db.ping(),
});
const cron = scheduleDeliveries(loop, config.NOTIFIER_TICK_SECONDS, logger);
loop.wake(); // messages left due by an earlier run go out without waiting for the first tick
onShutdown(logger, config.SHUTDOWN_TIMEOUT_MS, [
  () => cron.stop(),
  () => loop.stop(),
  () => server.close(),
  () => sender.close(),
  () => db.close(),
]);
