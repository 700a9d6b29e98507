import { randomUUID } from "node:crypto";
import { isValidRequestId, type Logger, type NodeHandler, REQUEST_ID_HEADER } from "@mypay/kit";
import type { Authenticator } from "../auth.ts";
import { badRequest, HttpErrorResponse, toHttpError } from "../http-errors.ts";
import { header, type Req, type Res, readJson, sendError, sendJson } from "./http.ts";
import type { Route } from "./routes.ts";

export interface RestOptions {
  routes: Route[];
  auth: Authenticator;
  logger: Logger;
  maxBodyBytes: number;
  timeoutMs: number;
}

/** Request ids: the caller's when it is safe to echo, else a fresh one. */
export function requestIdOf(req: Req): string {
  const given = header(req, REQUEST_ID_HEADER);
  return isValidRequestId(given) ? given : `req_${randomUUID().replaceAll("-", "")}`;
}

/** Serves the REST API: routing, authentication, body limits and the error contract. Never leaks internals. */
export function restHandler(options: RestOptions): NodeHandler {
  const { routes, auth, logger } = options;
  return (req: Req, res: Res) => {
    const requestId = requestIdOf(req);
    const url = new URL(req.url ?? "/", "http://gateway");
    const handle = async () => {
      const candidates = routes.filter((r) => r.pattern.test(url.pathname));
      if (candidates.length === 0) throw new HttpErrorResponse(badRequest(404, "route_not_found", "No such route."));
      const route = candidates.find((r) => r.method === req.method);
      if (!route) {
        throw new HttpErrorResponse(badRequest(405, "method_not_allowed", `${req.method} is not allowed here.`));
      }
      const merchantId = await auth.merchantFor(header(req, "x-api-key"));
      const match = route.pattern.exec(url.pathname)!;
      const params = Object.fromEntries(route.params.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? "")]));
      const result = await route.handle({
        req,
        params,
        query: url.searchParams,
        merchantId,
        requestId,
        timeoutMs: options.timeoutMs,
        body: () => readJson(req, options.maxBodyBytes),
      });
      sendJson(res, result.status, result.body, { "x-request-id": requestId, ...result.headers });
    };
    handle().catch((err: unknown) => {
      const error = err instanceof HttpErrorResponse ? err.error : toHttpError(err);
      if (error.status >= 500) logger.error({ err, requestId, path: url.pathname }, "request failed");
      sendError(res, error, requestId, { "x-request-id": requestId });
    });
  };
}
