/**
 * The Grafana dashboards, as code: `node observability/grafana/dashboards.ts` writes
 * `observability/grafana/dashboards/*.json`, which Grafana's provisioning loads. Edit here, regenerate,
 * and commit both; the observability e2e test fails when the JSON files and this module disagree, and
 * checks every query below against a Prometheus scraping the running mesh.
 *
 * Queries use `$__rate_interval` so rates stay correct at any scrape interval.
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";

/** The Prometheus data source that provisioning/datasources/prometheus.yml creates. */
const DATASOURCE = { type: "prometheus", uid: "prometheus" } as const;

interface Query {
  expr: string;
  legend: string;
}

interface PanelSpec {
  title: string;
  description: string;
  /** A Grafana unit id: `s`, `ops`, `reqps`, `percentunit`, `bytes`, `short`, `none`. */
  unit: string;
  queries: Query[];
  /** `stat` for a single current value; time series otherwise. */
  kind?: "timeseries" | "stat";
  /** Stat value mappings, e.g. 1 → "OK". */
  mappings?: Record<string, { text: string; color: string }>;
  width?: number;
}

interface DashboardSpec {
  uid: string;
  title: string;
  description: string;
  panels: PanelSpec[];
}

const rate = (metric: string, by: string, selector = "") =>
  `sum by (${by}) (rate(${metric}${selector}[$__rate_interval]))`;
const quantile = (q: number, histogram: string, by: string, selector = "") =>
  `histogram_quantile(${q}, sum by (${by ? `${by}, ` : ""}le) (rate(${histogram}_bucket${selector}[$__rate_interval])))`;

const overview: DashboardSpec = {
  uid: "mypay-overview",
  title: "MyPay / Overview",
  description: "Golden signals of the mesh: traffic, errors, latency and saturation of every service.",
  panels: [
    {
      title: "Services up",
      description: "1 when Prometheus scraped the service's /metrics on the last try, 0 when it could not.",
      unit: "none",
      kind: "stat",
      queries: [{ expr: 'up{job=~"ledger|payouts|notifier|gateway"}', legend: "{{job}}" }],
      mappings: { "0": { text: "DOWN", color: "red" }, "1": { text: "UP", color: "green" } },
      width: 24,
    },
    {
      title: "REST requests by status",
      description: "Requests per second the gateway answered on the REST API, by HTTP status.",
      unit: "reqps",
      queries: [{ expr: rate("http_requests_total", "status"), legend: "{{status}}" }],
    },
    {
      title: "REST 5xx ratio",
      description:
        "Share of REST requests answered 5xx over 5 minutes (recording rule); 4xx are caller mistakes and not counted.",
      unit: "percentunit",
      queries: [{ expr: "service:http_errors:ratio_rate5m", legend: "{{service}}" }],
    },
    {
      title: "REST latency p99 by route",
      description: "99th percentile of the time the gateway took to answer a REST request, by route.",
      unit: "s",
      queries: [{ expr: quantile(0.99, "http_request_duration_seconds", "route"), legend: "{{route}}" }],
    },
    {
      title: "Rate-limited requests",
      description: "Requests per second the gateway refused with 429, by rate-limit bucket.",
      unit: "reqps",
      queries: [{ expr: rate("gateway_rate_limited_total", "bucket"), legend: "{{bucket}}" }],
    },
    {
      title: "RPCs served by service",
      description: "gRPC/Connect calls per second each service completed, whatever their outcome.",
      unit: "reqps",
      queries: [{ expr: rate("grpc_server_handled_total", "service"), legend: "{{service}}" }],
    },
    {
      title: "RPC server error ratio",
      description:
        "Share of RPCs each service ended with a server error (UNKNOWN, INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED, DATA_LOSS, UNIMPLEMENTED) over 5 minutes.",
      unit: "percentunit",
      queries: [{ expr: "service:grpc_server_errors:ratio_rate5m", legend: "{{service}}" }],
    },
    {
      title: "RPC latency p99 by service",
      description: "99th percentile of the time each service took to handle an RPC.",
      unit: "s",
      queries: [{ expr: quantile(0.99, "grpc_server_handling_seconds", "service"), legend: "{{service}}" }],
    },
    {
      title: "Outgoing RPC error ratio",
      description:
        "Share of the calls each service made to another service that failed with a server error over 5 minutes: the callee is down, slow or failing.",
      unit: "percentunit",
      queries: [{ expr: "service:grpc_client_errors:ratio_rate5m", legend: "{{service}}" }],
    },
    {
      title: "Processor lag",
      description: "Age of the oldest payout that is due for a bank call: how far the processor is behind.",
      unit: "s",
      queries: [{ expr: "max by (service) (payout_processor_lag_seconds)", legend: "lag" }],
    },
    {
      title: "CPU by service",
      description: "CPU time each service process used per second (1 = one full core).",
      unit: "percentunit",
      queries: [{ expr: rate("process_cpu_seconds_total", "service"), legend: "{{service}}" }],
    },
    {
      title: "Resident memory by service",
      description: "Resident set size of each service process.",
      unit: "bytes",
      queries: [{ expr: "sum by (service) (process_resident_memory_bytes)", legend: "{{service}}" }],
    },
    {
      title: "Event loop lag p99 by service",
      description:
        "99th percentile of Node's event loop delay in each service: high values mean blocked or saturated processes.",
      unit: "s",
      queries: [{ expr: "max by (service) (nodejs_eventloop_lag_p99_seconds)", legend: "{{service}}" }],
    },
  ],
};

const payouts: DashboardSpec = {
  uid: "mypay-payouts",
  title: "MyPay / Payouts",
  description: "Payout throughput by status, time to a final status, processor lag, retries, review queue and outbox.",
  panels: [
    {
      title: "Payouts created by currency",
      description: "Payouts accepted per second (idempotent replays not counted), by currency.",
      unit: "ops",
      queries: [{ expr: rate("payouts_created_total", "currency"), legend: "{{currency}}" }],
    },
    {
      title: "Status transitions by target status",
      description: "Payout status changes per second, by the status entered (SUCCESS, FAILED, RETRY, ON_HOLD, …).",
      unit: "ops",
      queries: [{ expr: rate("payout_transitions_total", "to"), legend: "→ {{to}}" }],
    },
    {
      title: "Payouts in each open status",
      description:
        "Number of payouts currently in each status they can still leave (PENDING, PROCESSING, RETRY, ON_HOLD, IN_REVIEW).",
      unit: "short",
      queries: [{ expr: "sum by (status) (payouts_in_status)", legend: "{{status}}" }],
    },
    {
      title: "Review queue",
      description: "Payouts waiting in IN_REVIEW (amount at or above REVIEW_THRESHOLD) for an operator decision.",
      unit: "short",
      kind: "stat",
      queries: [{ expr: 'sum(payouts_in_status{status="IN_REVIEW"})', legend: "in review" }],
    },
    {
      title: "Retries",
      description: "Payouts per second sent back to RETRY after a transient bank failure.",
      unit: "ops",
      queries: [{ expr: 'sum(rate(payout_transitions_total{to="RETRY"}[$__rate_interval]))', legend: "retries" }],
    },
    {
      title: "Time to final status",
      description:
        "Time from creation to a final status (SUCCESS, FAILED, …), median and 95th percentile, by final status.",
      unit: "s",
      queries: [
        { expr: quantile(0.5, "payout_time_to_final_seconds", "status"), legend: "p50 {{status}}" },
        { expr: quantile(0.95, "payout_time_to_final_seconds", "status"), legend: "p95 {{status}}" },
      ],
    },
    {
      title: "Processor lag",
      description: "Age of the oldest payout due for a bank call; grows when the processor falls behind.",
      unit: "s",
      queries: [{ expr: "max by (service) (payout_processor_lag_seconds)", legend: "lag" }],
    },
    {
      title: "Processor batch size",
      description: "Payouts claimed per processor round, median and 95th percentile (PROCESSOR_BATCH_SIZE caps it).",
      unit: "short",
      queries: [
        { expr: quantile(0.5, "payout_processor_batch_size", ""), legend: "p50" },
        { expr: quantile(0.95, "payout_processor_batch_size", ""), legend: "p95" },
      ],
    },
    {
      title: "Bank calls by outcome",
      description: "Calls to the bank rail per second, by outcome.",
      unit: "ops",
      queries: [{ expr: rate("payout_bank_calls_total", "outcome"), legend: "{{outcome}}" }],
    },
    {
      title: "Outbox backlog",
      description: "Outbox messages (ledger calls and events) waiting to be relayed.",
      unit: "short",
      queries: [{ expr: "max by (service) (payout_outbox_backlog)", legend: "backlog" }],
    },
    {
      title: "Outbox relay errors by kind",
      description: "Failed relay attempts per second, by kind; each is retried with backoff.",
      unit: "ops",
      queries: [{ expr: rate("payout_outbox_relay_errors_total", "kind"), legend: "{{kind}}" }],
    },
  ],
};

const ledger: DashboardSpec = {
  uid: "mypay-ledger",
  title: "MyPay / Ledger",
  description: "Ledger operations, conflicts, batch sizes, outstanding holds and the invariant check.",
  panels: [
    {
      title: "Invariant check",
      description:
        "Result of the ledger's last invariant check (balanced entries, balances match holds): 1 = OK, 0 = BROKEN.",
      unit: "none",
      kind: "stat",
      queries: [{ expr: "min(ledger_invariants_ok)", legend: "invariants" }],
      mappings: { "0": { text: "BROKEN", color: "red" }, "1": { text: "OK", color: "green" } },
    },
    {
      title: "Holds outstanding",
      description: "Number of holds placed and neither captured nor released.",
      unit: "short",
      kind: "stat",
      queries: [{ expr: "sum(ledger_holds_outstanding)", legend: "holds" }],
    },
    {
      title: "Amount held",
      description: "Sum of outstanding holds in minor units (paisa for PKR): money locked for payouts in flight.",
      unit: "short",
      kind: "stat",
      queries: [{ expr: "sum(ledger_holds_outstanding_minor)", legend: "held" }],
    },
    {
      title: "Operations by type and result",
      description: "Ledger operations per second (hold, capture, release, …), by result.",
      unit: "ops",
      queries: [{ expr: rate("ledger_operations_total", "op, result"), legend: "{{op}} {{result}}" }],
      width: 24,
    },
    {
      title: "Conflicts",
      description:
        "Conflicting ledger writes per second (concurrent updates of one account); retried inside the ledger.",
      unit: "ops",
      queries: [{ expr: "sum(rate(ledger_conflicts_total[$__rate_interval]))", legend: "conflicts" }],
    },
    {
      title: "Batch size",
      description: "Items per ledger batch (group-committed settle calls), median and 95th percentile.",
      unit: "short",
      queries: [
        { expr: quantile(0.5, "ledger_batch_size", ""), legend: "p50" },
        { expr: quantile(0.95, "ledger_batch_size", ""), legend: "p95" },
      ],
    },
    {
      title: "Ledger RPCs by method and code",
      description: "RPCs per second the ledger completed, by method and gRPC code.",
      unit: "reqps",
      queries: [
        {
          expr: rate("grpc_server_handled_total", "grpc_method, grpc_code", '{service="ledger"}'),
          legend: "{{grpc_method}} {{grpc_code}}",
        },
      ],
    },
    {
      title: "Ledger RPC latency p99 by method",
      description: "99th percentile of the ledger's RPC handling time, by method.",
      unit: "s",
      queries: [
        {
          expr: quantile(0.99, "grpc_server_handling_seconds", "grpc_method", '{service="ledger"}'),
          legend: "{{grpc_method}}",
        },
      ],
    },
  ],
};

const webhooks: DashboardSpec = {
  uid: "mypay-webhooks",
  title: "MyPay / Webhooks",
  description: "Webhook delivery: attempts by result, latency, queue, dead letters and disabled endpoints.",
  panels: [
    {
      title: "Queue depth",
      description: "Webhook messages waiting for delivery or in flight.",
      unit: "short",
      kind: "stat",
      queries: [{ expr: "sum(webhook_queue_depth)", legend: "queued" }],
    },
    {
      title: "Dead letters",
      description: "Messages dead-lettered after their last attempt; they stay until replayed.",
      unit: "short",
      kind: "stat",
      queries: [{ expr: "sum(webhook_dead_letters)", legend: "dead" }],
    },
    {
      title: "Disabled endpoints",
      description: "Merchant webhook endpoints currently disabled.",
      unit: "short",
      kind: "stat",
      queries: [{ expr: "sum(webhook_endpoints_disabled)", legend: "disabled" }],
    },
    {
      title: "Attempts by result",
      description: "Delivery attempts per second by result: delivered, http_error, timeout, network_error, refused.",
      unit: "ops",
      queries: [{ expr: rate("webhook_attempts_total", "result"), legend: "{{result}}" }],
    },
    {
      title: "Attempts by HTTP status class",
      description: "Delivery attempts per second by the receiver's HTTP status class (none when no answer came).",
      unit: "ops",
      queries: [{ expr: rate("webhook_attempts_total", "status_class"), legend: "{{status_class}}" }],
    },
    {
      title: "Failure ratio",
      description: "Share of delivery attempts that did not deliver, over 5 minutes (recording rule).",
      unit: "percentunit",
      queries: [{ expr: "service:webhook_attempts_failed:ratio_rate5m", legend: "failed" }],
    },
    {
      title: "Delivery latency",
      description: "Time of one delivery attempt, connect to last byte read: median and 99th percentile.",
      unit: "s",
      queries: [
        { expr: quantile(0.5, "webhook_delivery_seconds", ""), legend: "p50" },
        { expr: quantile(0.99, "webhook_delivery_seconds", ""), legend: "p99" },
      ],
    },
    {
      title: "Replays",
      description: "Dead-lettered messages replayed per second by operators.",
      unit: "ops",
      queries: [{ expr: "sum(rate(webhook_replays_total[$__rate_interval]))", legend: "replays" }],
    },
  ],
};

export const dashboardSpecs: readonly DashboardSpec[] = [overview, payouts, ledger, webhooks];

/** Grafana's JSON model of one dashboard, laid out two panels a row (stats four a row). */
export function dashboardJson(spec: DashboardSpec): Record<string, unknown> {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  const panels = spec.panels.map((panel, index) => {
    const stat = panel.kind === "stat";
    const w = panel.width ?? (stat ? 6 : 12);
    const h = stat ? 5 : 8;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const gridPos = { h, w, x, y };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    const mappings = panel.mappings
      ? [
          {
            type: "value",
            options: Object.fromEntries(
              Object.entries(panel.mappings).map(([value, m], i) => [value, { ...m, index: i }]),
            ),
          },
        ]
      : [];
    return {
      id: index + 1,
      type: stat ? "stat" : "timeseries",
      title: panel.title,
      description: panel.description,
      datasource: DATASOURCE,
      gridPos,
      fieldConfig: { defaults: { unit: panel.unit, mappings }, overrides: [] },
      options: stat
        ? {
            reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false },
            colorMode: "value",
            graphMode: "area",
          }
        : { legend: { displayMode: "list", placement: "bottom", showLegend: true }, tooltip: { mode: "multi" } },
      targets: panel.queries.map((query, i) => ({
        refId: String.fromCharCode(65 + i),
        datasource: DATASOURCE,
        expr: query.expr,
        legendFormat: query.legend,
      })),
    };
  });
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ["mypay"],
    timezone: "utc",
    editable: true,
    refresh: "10s",
    schemaVersion: 39,
    version: 1,
    time: { from: "now-1h", to: "now" },
    annotations: { list: [] },
    templating: { list: [] },
    panels,
  };
}

/** File name (under grafana/dashboards/) and content of every dashboard. */
export function dashboardFiles(): Map<string, string> {
  return new Map(
    dashboardSpecs.map((spec) => [
      `${spec.uid.replace(/^mypay-/, "")}.json`,
      `${JSON.stringify(dashboardJson(spec), null, 2)}\n`,
    ]),
  );
}

if (import.meta.main) {
  const dir = resolve(import.meta.dirname, "dashboards");
  for (const [name, content] of dashboardFiles()) writeFileSync(resolve(dir, name), content);
}
