import type { Route } from "./route.ts";

/** Where the gateway finds the services it reports on (their probe and metrics port is their RPC port). */
export interface MeshTargets {
  ledger: string;
  payouts: string;
  notifier: string;
}

/** One service as the gateway sees it: `ready`, `not_ready` (answers, but its readiness check fails) or `unreachable`. */
export interface ServiceStatus {
  name: string;
  status: "ready" | "not_ready" | "unreachable";
  latencyMs: number;
}

/** How long one probe may take: a status strip that hangs on a dead service would hide the others. */
const PROBE_TIMEOUT_MS = 1_000;

async function probe(name: string, baseUrl: string): Promise<ServiceStatus> {
  const started = performance.now();
  const latency = () => Math.round(performance.now() - started);
  try {
    const res = await fetch(`${baseUrl}/readyz`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    await res.body?.cancel();
    return { name, status: res.ok ? "ready" : "not_ready", latencyMs: latency() };
  } catch {
    return { name, status: "unreachable", latencyMs: latency() };
  }
}

/**
 * The value of a single-series gauge in a Prometheus text exposition (labels such as the registry's
 * default `service` are allowed), or null when it is absent.
 */
export function gaugeValue(exposition: string, name: string): number | null {
  const match = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "m").exec(exposition);
  const value = match ? Number(match[1]) : Number.NaN;
  return Number.isFinite(value) ? value : null;
}

async function payoutGauges(baseUrl: string): Promise<{ lag: number | null; backlog: number | null }> {
  try {
    const res = await fetch(`${baseUrl}/metrics`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    if (!res.ok) {
      await res.body?.cancel();
      return { lag: null, backlog: null };
    }
    const text = await res.text();
    return {
      lag: gaugeValue(text, "payout_processor_lag_seconds"),
      backlog: gaugeValue(text, "payout_outbox_backlog"),
    };
  } catch {
    return { lag: null, backlog: null };
  }
}

/**
 * `GET /api/v1/admin/mesh-status` (admin key): each service's readiness and probe latency, the payout
 * processor's lag (age of the oldest due payout) and the outbox backlog, read from the services' own
 * probes and metrics. Always 200: an unreachable service is reported, not raised; gauges are null
 * when payouts cannot be asked.
 */
export function meshStatusRoute(targets: MeshTargets): Route {
  return {
    method: "GET",
    path: "/api/v1/admin/mesh-status",
    auth: "admin",
    async handle() {
      const [ledger, payouts, notifier, gauges] = await Promise.all([
        probe("ledger", targets.ledger),
        probe("payouts", targets.payouts),
        probe("notifier", targets.notifier),
        payoutGauges(targets.payouts),
      ]);
      const gateway: ServiceStatus = { name: "gateway", status: "ready", latencyMs: 0 };
      return {
        status: 200,
        body: {
          checkedAt: new Date().toISOString(),
          services: [gateway, ledger, payouts, notifier],
          processorLagSeconds: gauges.lag,
          outboxBacklog: gauges.backlog,
        },
      };
    },
  };
}
