import { isValidRequestId, type Logger, type NodeHandler, REQUEST_ID_HEADER, randomRequestId } from "@mypay/kit";
import type { Authenticator } from "../auth.ts";
import { badRequest, type HttpError, HttpErrorResponse, toHttpError } from "../http-errors.ts";
import type { HttpMetrics } from "../http-metrics.ts";
import { type RateLimiter, rateLimitHeaders } from "../rate-limit.ts";
import { hasBody, header, type Req, type Res, type RouteContext, readJson, sendError, sendJson } from "./http.ts";
import type { CompiledRoute } from "./route.ts";

export interface RestOptions {
  routes: CompiledRoute[];
  auth: Authenticator;
  limiter: RateLimiter;
  metrics: HttpMetrics;
  logger: Logger;
  maxBodyBytes: number;
  timeoutMs: number;
  /** The OpenAPI document served at `/openapi.json`. */
  openApi: object;
}

/** Request ids: the caller's when it is safe to echo, else a fresh one. */
export function requestIdOf(req: Req): string {
  const given = header(req, REQUEST_ID_HEADER);
  return isValidRequestId(given) ? given : randomRequestId();
}

/** Whether `path` names `route`: a string comparison for a path without parameters, else its pattern. */
function matches(route: CompiledRoute, path: string): boolean {
  return route.params.length === 0 ? route.path === path : route.pattern.test(path);
}

function decodeParam(name: string, raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpErrorResponse(badRequest(400, "invalid_argument", `${name}: is not a valid path segment`, name));
  }
}

/**
 * Serves the REST API: routing, authentication (merchant or admin key), per-merchant rate limits,
 * body limits, metrics and the error contract. Every answer is JSON with `X-Request-Id`; failures
 * that are not the client's are logged with the request id and answered without internals.
 */
export function restHandler(options: RestOptions): NodeHandler {
  const { routes, auth, limiter, metrics, logger } = options;
  return (req: Req, res: Res) => {
    const started = performance.now();
    const requestId = requestIdOf(req);
    const method = req.method ?? "GET";
    const url = req.url ?? "/";
    const queryAt = url.indexOf("?");
    const path = queryAt < 0 ? url : url.slice(0, queryAt);
    const extra: Record<string, string> = { "x-request-id": requestId };
    let label = "unmatched";
    const finish = (status: number) => metrics.observe(label, method, status, (performance.now() - started) / 1000);
    const handle = async () => {
      if (path === "/openapi.json" && method === "GET") {
        label = "/openapi.json";
        sendJson(res, 200, options.openApi, extra);
        return finish(200);
      }
      const route = routes.find((r) => r.method === method && matches(r, path));
      if (!route) {
        const candidates = routes.filter((r) => matches(r, path));
        if (candidates.length === 0) throw new HttpErrorResponse(badRequest(404, "route_not_found", "No such route."));
        extra.allow = [...new Set(candidates.map((r) => r.method))].join(", ");
        throw new HttpErrorResponse(badRequest(405, "method_not_allowed", `${method} is not allowed here.`));
      }
      label = route.path;
      const apiKey = header(req, "x-api-key");
      let merchantId = "";
      let adminKeyId = "";
      if (route.auth === "admin") {
        adminKeyId = auth.adminFor(apiKey);
      } else {
        merchantId = (await auth.merchantFor(apiKey)).merchantId;
        const bucket = method === "GET" ? "read" : "write";
        const decision = limiter.take(merchantId, bucket);
        Object.assign(extra, rateLimitHeaders(decision));
        if (!decision.allowed) {
          metrics.rateLimited(bucket);
          throw new HttpErrorResponse({
            ...badRequest(429, "rate_limited", `Too many requests; retry in ${decision.retryAfterSeconds} s.`),
            type: "rate_limit_error",
          });
        }
      }
      const params: RouteContext["params"] = { id: "" };
      if (route.params.length > 0) {
        const match = route.pattern.exec(path)!;
        route.params.forEach((name, i) => {
          params[name] = decodeParam(name, match[i + 1] ?? "");
        });
      }
      const body = () => readJson(req, options.maxBodyBytes);
      const result = await route.handle({
        req,
        params,
        query: new URLSearchParams(queryAt < 0 ? "" : url.slice(queryAt + 1)),
        merchantId,
        adminKeyId,
        requestId,
        timeoutMs: options.timeoutMs,
        body,
        optionalBody: async () => (hasBody(req) ? readJson(req, options.maxBodyBytes, {}) : {}),
      });
      sendJson(res, result.status, result.body, result.headers ? { ...extra, ...result.headers } : extra);
      finish(result.status);
    };
    handle().catch((err: unknown) => {
      const error: HttpError = err instanceof HttpErrorResponse ? err.error : toHttpError(err);
      if (error.status === 500) logger.error({ err, requestId, route: label }, "request failed");
      else if (error.status > 500) logger.warn({ requestId, route: label, code: error.code }, "upstream failure");
      if (res.headersSent) {
        res.destroy();
      } else {
        // A refused body is not read: on HTTP/1.1 close the connection rather than drain it.
        if (error.status === 413 && req.httpVersionMajor === 1) extra.connection = "close";
        sendError(res, error, requestId, extra);
      }
      finish(error.status);
    });
  };
}
