import type { ServerResponse } from "node:http";
import { Code, ConnectError, type ConnectRouter, createConnectRouter, type Interceptor } from "@connectrpc/connect";
import type { UniversalHandler } from "@connectrpc/connect/protocol";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
} from "@connectrpc/connect-node";
import type { Registry } from "prom-client";
import { createGrpcUnaryServer } from "./grpc-unary-server.ts";
import { isValidRequestId, REQUEST_ID_HEADER, randomRequestId } from "./headers.ts";
import { Health, healthService, type ReadinessCheck } from "./health.ts";
import { type DualListener, listenHttp1And2, type NodeHandler } from "./http-listener.ts";
import type { Logger } from "./logger.ts";
import { rejectUndecodableRequests, screenUndecodableRequests } from "./undecodable-requests.ts";

export interface RpcServerOptions {
  port: number;
  host: string;
  logger: Logger;
  registry: Registry;
  /** Registers the service's Connect handlers. */
  routes: (router: ConnectRouter) => void;
  interceptors?: Interceptor[];
  /** Backs `/readyz` and grpc.health.v1; `/healthz` only says the process is alive. */
  ready: ReadinessCheck;
  /** Handles every request that is neither an RPC nor a probe (the gateway's REST API). */
  fallback?: NodeHandler;
}

/**
 * Serves Connect, gRPC and gRPC-Web (over h2c and HTTP/1.1 on one port), grpc.health.v1,
 * and the `/healthz`, `/readyz` and `/metrics` probes. `close()` first ends health Watch
 * streams (they never finish on their own), then drains the listener.
 */
export async function startRpcServer(options: RpcServerOptions): Promise<DualListener> {
  const { logger, registry, ready } = options;
  const stopping = new AbortController();
  const probes: NodeHandler = (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string) => {
      const given = req.headers[REQUEST_ID_HEADER];
      const requestId = isValidRequestId(typeof given === "string" ? given : undefined)
        ? (given as string)
        : randomRequestId();
      (res as ServerResponse).writeHead(status, {
        "content-type": type,
        "cache-control": "no-store",
        [REQUEST_ID_HEADER]: requestId,
      });
      (res as ServerResponse).end(body);
    };
    if (path === "/healthz") return send(200, "application/json", '{"status":"ok"}');
    if (path === "/readyz") {
      ready()
        .catch(() => false)
        .then((ok) => send(ok ? 200 : 503, "application/json", JSON.stringify({ status: ok ? "ready" : "not ready" })));
      return;
    }
    if (path === "/metrics") {
      registry.metrics().then(
        (text) => send(200, registry.contentType, text),
        (err: unknown) => {
          logger.error({ err }, "metrics collection failed");
          send(500, "text/plain", "metrics unavailable\n");
        },
      );
      return;
    }
    if (options.fallback) return options.fallback(req, res);
    send(404, "application/json", '{"error":{"code":"not_found","message":"no such route"}}');
  };
  const interceptors = [rejectUndecodableRequests, logUnexpectedErrors(logger), ...(options.interceptors ?? [])];
  // Unary gRPC over HTTP/2 (every internal call) takes the lean path; connect-es serves the rest.
  const unary = createGrpcUnaryServer({ interceptors, shutdownSignal: stopping.signal });
  const router = createConnectRouter({ interceptors, acceptCompression: [compressionGzip, compressionBrotli] });
  const both: ConnectRouter = {
    ...router,
    service(service, impl, serviceOptions) {
      unary.register(service, impl);
      router.service(service, impl, serviceOptions);
      return both;
    },
  };
  both.service(Health, healthService(ready, undefined, stopping.signal));
  options.routes(both);
  const handler = connectHandler(router.handlers.map(screenUndecodableRequests), probes, logger);
  const listener = await listenHttp1And2(handler, options.port, options.host, unary.handle);
  logger.info({ port: listener.port, host: options.host }, "listening");
  return {
    ...listener,
    close() {
      stopping.abort();
      return listener.close();
    },
  };
}

/**
 * Node request handler for connect-es handlers (as connect-node's adapter, but over handlers we wrap):
 * requests for no RPC path go to `fallback`.
 */
function connectHandler(handlers: UniversalHandler[], fallback: NodeHandler, logger: Logger): NodeHandler {
  const byPath = new Map(handlers.map((h) => [h.requestPath, h]));
  return (req, res) => {
    const handler = byPath.get((req.url ?? "").split("?", 1)[0] ?? "");
    if (handler === undefined) return fallback(req, res);
    handler(universalRequestFromNodeRequest(req, res, undefined, undefined))
      .then((answer) => universalResponseToNodeResponse(answer, res))
      .catch((err: unknown) => {
        if (ConnectError.from(err).code === Code.Aborted) return;
        logger.error({ err, rpc: `${handler.service.typeName}/${handler.method.name}` }, "rpc handler failed");
      });
  };
}

/**
 * Logs every error that is not a deliberate ConnectError (a bug or an infrastructure failure) with its
 * stack and request id; the caller only ever sees INTERNAL with no details.
 */
function logUnexpectedErrors(logger: Logger): Interceptor {
  return (next) => async (req) => {
    try {
      return await next(req);
    } catch (err) {
      if (!(err instanceof ConnectError) || err.code === Code.Internal || err.code === Code.Unknown) {
        logger.error(
          { err, rpc: `${req.service.typeName}/${req.method.name}`, requestId: req.header.get(REQUEST_ID_HEADER) },
          "rpc failed unexpectedly",
        );
      }
      throw err;
    }
  };
}
