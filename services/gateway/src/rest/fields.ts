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
