import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { collectDefaultMetrics, Registry } from "prom-client";
import { SeriesCounter, SeriesHistogram } from "./series-metrics.ts";

/** Latency buckets (seconds) around our SLOs: 5 ms hot-path calls to 5 s bank/webhook calls. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface ServiceMetrics {
  registry: Registry;
  /** RED metrics for every RPC this process serves. */
  serverInterceptor: Interceptor;
  /** RED metrics for every RPC this process makes. */
  clientInterceptor: Interceptor;
}

/** A registry with process metrics labelled by service, plus the gRPC server/client RED families. */
export function createMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  const labelNames = ["grpc_service", "grpc_method", "grpc_code"] as const;
  const callLabels = ["grpc_service", "grpc_method"] as const;
  const registers = [registry];
  const server = {
    started: new SeriesCounter({
      name: "grpc_server_started_total",
      help: "RPCs started on the server.",
      labelNames: callLabels,
      registers,
    }),
    handled: new SeriesCounter({
      name: "grpc_server_handled_total",
      help: "RPCs completed on the server, by code.",
      labelNames,
      registers,
    }),
    seconds: new SeriesHistogram({
      name: "grpc_server_handling_seconds",
      help: "Server RPC latency.",
      labelNames: callLabels,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
  };
  const client = {
    started: new SeriesCounter({
      name: "grpc_client_started_total",
      help: "RPCs started by this client.",
      labelNames: callLabels,
      registers,
    }),
    handled: new SeriesCounter({
      name: "grpc_client_handled_total",
      help: "RPCs completed by this client, by code.",
      labelNames,
      registers,
    }),
    seconds: new SeriesHistogram({
      name: "grpc_client_handling_seconds",
      help: "Client RPC latency.",
      labelNames: callLabels,
      buckets: LATENCY_BUCKETS,
      registers,
    }),
  };

  const measure =
    (families: typeof server): Interceptor =>
    (next) =>
    async (req) => {
      const service = req.service.typeName;
      const method = req.method.name;
      families.started.series(service, method).inc();
      const started = performance.now();
      try {
        const res = await next(req);
        families.handled.series(service, method, "OK").inc();
        return res;
      } catch (err) {
        // A handler's plain Error reaches the caller as INTERNAL (both gRPC servers say "internal error").
        const code = codeName(err instanceof ConnectError ? err.code : Code.Internal);
        families.handled.series(service, method, code).inc();
        throw err;
      } finally {
        families.seconds.series(service, method).observe((performance.now() - started) / 1000);
      }
    };
  return {
    registry,
    serverInterceptor: measure(server),
    clientInterceptor: measure(client),
  };
}

/** gRPC's upper-snake code names (`NOT_FOUND`), as Prometheus users expect them. */
function codeName(code: Code): string {
  return (Code[code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
