import { connect } from "node:net";

/** A raw HTTP/1.1 answer: status 0 when the server closed without one. */
export interface RawAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends one HTTP/1.1 request byte for byte (`Connection: close`), so paths and headers can carry
 * anything a hostile client can put on the wire, which fetch and node:http refuse to send. The
 * server closes the connection after its answer (`Connection: close`).
 */
export function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: [string, string][],
  body: Buffer,
  timeoutMs = 15_000,
): Promise<RawAnswer> {
  return new Promise((done, fail) => {
    const socket = connect({ host: "127.0.0.1", port });
    const chunks: Buffer[] = [];
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      fail(new Error(`no answer in ${timeoutMs} ms to ${method} ${path.slice(0, 80)}`));
    });
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => undefined);
    socket.on("close", () => done(parse(Buffer.concat(chunks))));
    const head = [
      `${method} ${path} HTTP/1.1`,
      `host: 127.0.0.1:${port}`,
      "connection: close",
      ...headers.map(([k, v]) => `${k}: ${v}`),
      `content-length: ${body.length}`,
      "",
      "",
    ].join("\r\n");
    // Write without half-closing: Node's HTTP server drops a request whose client sent FIN first.
    socket.write(Buffer.concat([Buffer.from(head, "utf8"), body]));
  });
}

function parse(raw: Buffer): RawAnswer {
  const split = raw.indexOf("\r\n\r\n");
  if (split < 0) return { status: 0, headers: {}, body: raw.toString("utf8") };
  const [statusLine = "", ...lines] = raw.subarray(0, split).toString("latin1").split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(split + 4);
  if (headers["transfer-encoding"]?.includes("chunked")) body = dechunk(body);
  return { status: Number(statusLine.split(" ")[1] ?? 0), headers, body: body.toString("utf8") };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = data.indexOf("\r\n", at);
    if (eol < 0) break;
    const size = Number.parseInt(data.subarray(at, eol).toString("latin1"), 16);
    if (!size) break;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
