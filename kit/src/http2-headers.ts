import type { IncomingHttpHeaders } from "node:http2";

/** The regular fields of an HTTP/2 header block (pseudo-headers such as `:path` left out) as web Headers. */
export function webHeaders(raw: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (name.startsWith(":") || value === undefined) continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, String(value));
  }
  return headers;
}
