import type { RouteContext, RouteResult } from "./http.ts";

/** One REST operation. `path` is the documented pattern (`/api/v1/payouts/{id}`), also the metrics label. */
export interface Route {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  /** Who may call it: a merchant key, or the admin key. */
  auth: "merchant" | "admin";
  handle(ctx: RouteContext): Promise<RouteResult>;
}

export interface CompiledRoute extends Route {
  pattern: RegExp;
  /** Names of the path parameters, in order. */
  params: string[];
}

/** Path parameters are ids: 1-64 characters without a slash (longer never names anything). */
export function compileRoute(route: Route): CompiledRoute {
  const params: string[] = [];
  const source = route.path.replace(/\{(\w+)\}/g, (_, name: string) => {
    params.push(name);
    return "([^/]{1,64})";
  });
  return { ...route, pattern: new RegExp(`^${source}$`), params };
}

/** `{ PENDING: 1, … }` from a protobuf enum's values, for query and body parsing. */
export function enumByName(schema: {
  values: readonly { localName: string; number: number }[];
}): Record<string, number> {
  return Object.fromEntries(schema.values.map((v) => [v.localName, v.number]));
}
