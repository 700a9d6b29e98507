import { badRequest, HttpErrorResponse } from "../http-errors.ts";

/** Field readers for JSON bodies: each failure is a 400 naming the field. */
export function invalid(param: string, message: string): HttpErrorResponse {
  return new HttpErrorResponse(badRequest(400, "invalid_argument", `${param}: ${message}`, param));
}

export function asObject(body: unknown, allowed: readonly string[]): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpErrorResponse(badRequest(400, "invalid_json", "The body must be a JSON object."));
  }
  for (const key of Object.keys(body)) {
    if (!allowed.includes(key)) throw invalid(key, "is not a known field");
  }
  return body as Record<string, unknown>;
}

export function stringField(
  obj: Record<string, unknown>,
  name: string,
  options: { required?: boolean; max?: number } = {},
): string {
  const value = obj[name];
  if (value === undefined || value === null) {
    if (options.required ?? true) throw invalid(name, "is required");
    return "";
  }
  if (typeof value !== "string") throw invalid(name, "must be a string");
  if ((options.required ?? true) && value.trim() === "") throw invalid(name, "must not be empty");
  if (value.length > (options.max ?? 1024)) throw invalid(name, `must be at most ${options.max ?? 1024} characters`);
  return value;
}

export function stringArrayField(obj: Record<string, unknown>, name: string, maxItems = 50): string[] {
  const value = obj[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string" || v.length > 100) || value.length > maxItems) {
    throw invalid(name, `must be an array of at most ${maxItems} strings`);
  }
  return value as string[];
}

export function booleanField(obj: Record<string, unknown>, name: string): boolean | undefined {
  const value = obj[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "boolean") throw invalid(name, "must be true or false");
  return value;
}

/** An RFC 3339 time, for filters such as `since`. */
export function timeField(obj: Record<string, unknown>, name: string, required: true): Date;
export function timeField(obj: Record<string, unknown>, name: string, required?: boolean): Date | undefined;
export function timeField(obj: Record<string, unknown>, name: string, required = false): Date | undefined {
  const value = obj[name];
  if (value === undefined || value === null) {
    if (required) throw invalid(name, "is required");
    return undefined;
  }
  if (typeof value !== "string" || value.length > 40) throw invalid(name, "must be an RFC 3339 time");
  const date = new Date(value);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(value) || Number.isNaN(date.getTime())) {
    throw invalid(name, "must be an RFC 3339 time");
  }
  return date;
}

/** Cursor paging from the query: `limit` (1-100, default 20) and `startingAfter` (an id). */
export function pageQuery(query: URLSearchParams): { limit: number; startingAfter: string } {
  const text = query.get("limit");
  let limit = 20;
  if (text !== null) {
    if (!/^\d{1,3}$/.test(text) || Number(text) < 1 || Number(text) > 100) {
      throw invalid("limit", "must be a whole number from 1 to 100");
    }
    limit = Number(text);
  }
  const startingAfter = query.get("startingAfter") ?? "";
  if (startingAfter.length > 64) throw invalid("startingAfter", "must be at most 64 characters");
  return { limit, startingAfter };
}

/** What the API's ids look like (`po_…`, `mch_…`): 1-64 letters, digits, `_` or `-`. */
export const ID = /^[A-Za-z0-9_-]{1,64}$/;

/** An optional query parameter naming an object by its id; "" when absent, a 400 when not an id. */
export function queryId(query: URLSearchParams, name: string): string {
  const value = query.get(name);
  if (value === null) return "";
  if (!ID.test(value)) throw invalid(name, "must be an id: 1-64 letters, digits, _ or -");
  return value;
}

/** An optional query parameter, at most `max` characters. */
export function queryString(query: URLSearchParams, name: string, max = 64): string {
  const value = query.get(name) ?? "";
  if (value.length > max) throw invalid(name, `must be at most ${max} characters`);
  return value;
}

/** An enum value by its REST name (`IN_REVIEW`), from a protobuf enum's local names. */
export function enumValue<T extends number>(param: string, text: string, values: Record<string, T | number>): T {
  const value = values[text];
  if (text === "UNSPECIFIED" || typeof value !== "number") {
    const allowed = Object.keys(values).filter((k) => k !== "UNSPECIFIED" && Number.isNaN(Number(k)));
    throw invalid(param, `must be one of ${allowed.join(", ")}`);
  }
  return value as T;
}
