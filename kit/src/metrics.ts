import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";

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
  const serverStarted = new Counter({
    name: "grpc_server_started_total",
    help: "RPCs started on the server.",
    labelNames: callLabels,
    registers: [registry],
  });
  const serverHandled = new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, by code.",
    labelNames,
    registers: [registry],
  });
  const serverSeconds = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Server RPC latency.",
    labelNames: callLabels,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const clientStarted = new Counter({
    name: "grpc_client_started_total",
    help: "RPCs started by this client.",
    labelNames: callLabels,
    registers: [registry],
  });
  const clientHandled = new Counter({
    name: "grpc_client_handled_total",
    help: "RPCs completed by this client, by code.",
    labelNames,
    registers: [registry],
  });
  const clientSeconds = new Histogram({
    name: "grpc_client_handling_seconds",
    help: "Client RPC latency.",
    labelNames: callLabels,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });

  const measure =
    (started: Counter<string>, handled: Counter<string>, seconds: Histogram<string>): Interceptor =>
    (next) =>
    async (req) => {
      const labels = { grpc_service: req.service.typeName, grpc_method: req.method.name };
      started.inc(labels);
      const stop = seconds.startTimer(labels);
      try {
        const res = await next(req);
        handled.inc({ ...labels, grpc_code: "OK" });
        return res;
      } catch (err) {
        // A handler's plain Error reaches the caller as INTERNAL (both gRPC servers say "internal error").
        handled.inc({ ...labels, grpc_code: codeName(err instanceof ConnectError ? err.code : Code.Internal) });
        throw err;
      } finally {
        stop();
      }
    };
  return {
    registry,
    serverInterceptor: measure(serverStarted, serverHandled, serverSeconds),
    clientInterceptor: measure(clientStarted, clientHandled, clientSeconds),
  };
}

/** gRPC's upper-snake code names (`NOT_FOUND`), as Prometheus users expect them. */
function codeName(code: Code): string {
  return (Code[code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}
