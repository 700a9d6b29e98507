export { BatchLoop, type BatchLoopOptions } from "./batch-loop.ts";
export { ConfigError, commonSettings, count, flag, loadConfig, logLevel, millis, parseConfig, port } from "./config.ts";
export {
  type Database,
  type DatabaseKind,
  type DatabaseOptions,
  openDatabase,
  type StorageSettings,
  serverUrl,
} from "./db.ts";
export {
  appError,
  Code,
  ConnectError,
  ERROR_DOMAIN,
  type ErrorDetails,
  errorDetails,
  invalidArgument,
  notFound,
  Reason,
} from "./errors.ts";
export { type GroupCommitOptions, GroupCommitter, type Outcome } from "./group-commit.ts";
export { ACTOR_HEADER, isValidRequestId, MERCHANT_HEADER, REQUEST_ID_HEADER, randomRequestId } from "./headers.ts";
export { healthService, type ReadinessCheck } from "./health.ts";
export { type DualListener, listenHttp1And2, type NodeHandler } from "./http-listener.ts";
export { isoTime } from "./iso-time.ts";
export { createLogger, type Logger } from "./logger.ts";
export { createMetrics, LATENCY_BUCKETS, type ServiceMetrics } from "./metrics.ts";
export { currencyExponent, formatAmount, MAX_MINOR_UNITS, type ParseAmountResult, parseAmount } from "./money.ts";
export { orderedId } from "./ordered-id.ts";
export { type PayoutView, payoutStatusName, payoutView } from "./payout-view.ts";
export { createRpcClient, type RpcClientOptions } from "./rpc-client.ts";
export { type RpcServerOptions, startRpcServer } from "./rpc-server.ts";
export {
  type CounterSeries,
  type HistogramSeries,
  SeriesCounter,
  SeriesHistogram,
  type SeriesMetricConfig,
} from "./series-metrics.ts";
export { probeReadiness, type WaitUntilReadyOptions, waitUntilReady } from "./service-readiness.ts";
export { onShutdown } from "./shutdown.ts";
export {
  type Guard,
  placeholders,
  type Row,
  RowCountMismatch,
  type Sql,
  type SqlDatabase,
  type SqlTransaction,
  type SqlValue,
  type Statement,
  type StatementResult,
  sqlDate,
  tuples,
} from "./sql.ts";
export { dropTestDatabases, freePort, hasExited, storageEnv, testStorage } from "./testing.ts";
