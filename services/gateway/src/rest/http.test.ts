import { createServer, type IncomingMessage, type Server } from "node:http";
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpErrorResponse } from "../http-errors.ts";
import { readJson } from "./http.ts";

const LIMIT = 64;

/** What the server's readJson gave for one request: the value, or the error's status (0 when not an HttpError). */
type Outcome = { value: unknown } | { status: number; code?: string };

describe("readJson", () => {
  let server: Server;
  let port = 0;
  /** Told what readJson gave for the request in flight. */
  let report: (outcome: Outcome) => void = () => undefined;

  beforeAll(async () => {
    server = createServer((req: IncomingMessage, res) => {
      const twice = req.url === "/twice";
      const read = async () => {
        const first = await readJson(req, LIMIT, twice ? undefined : {});
        return twice ? [first, await readJson(req, LIMIT, {})] : first;
      };
      read()
        .then(
          (value): Outcome => ({ value }),
          (err: unknown): Outcome =>
            err instanceof HttpErrorResponse ? { status: err.error.status, code: err.error.code } : { status: 0 },
        )
        .then((outcome) => {
          report(outcome);
          if (!res.destroyed) res.end("done");
        });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    port = (server.address() as { port: number }).port;
  });

  afterAll(() => new Promise<void>((done) => server.close(() => done())));

  /** Writes raw request parts (with a pause between them) and resolves with what readJson gave. */
  async function send(parts: (string | Buffer)[], { hangUp = false } = {}): Promise<Outcome> {
    const outcome = new Promise<Outcome>((done) => {
      report = done;
    });
    const socket = connect(port, "127.0.0.1");
    socket.on("error", () => undefined);
    for (const part of parts) {
      socket.write(part);
      await new Promise((r) => setTimeout(r, 20));
    }
    if (hangUp) socket.destroy();
    const result = await outcome;
    socket.destroy();
    return result;
  }

  const head = (path: string, headers: string[]) =>
    `POST ${path} HTTP/1.1\r\nhost: x\r\n${headers.map((h) => `${h}\r\n`).join("")}\r\n`;
  const json = "content-type: application/json";

  it("reads a body that arrives in several chunks", async () => {
    const parts = ['{"a":[1,', "2,3]", ',"b":"x"}'];
    expect(await send([head("/", [json, `content-length: ${parts.join("").length}`]), ...parts])).toEqual({
      value: { a: [1, 2, 3], b: "x" },
    });
    expect(
      await send([head("/", [json, "transfer-encoding: chunked"]), '4\r\n{"a"\r\n', "3\r\n:1}\r\n", "0\r\n\r\n"]),
    ).toEqual({ value: { a: 1 } });
  });

  it("reads an empty body as the given value, and a body already read as empty", async () => {
    expect(await send([head("/", [json, "content-length: 0"])])).toEqual({ value: {} });
    expect(await send([head("/twice", [json, "content-length: 7"]), '{"a":1}'])).toEqual({ value: [{ a: 1 }, {}] });
  });

  it("skips a UTF-8 byte order mark and refuses bytes that are not UTF-8", async () => {
    const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"a":1}')]);
    expect(await send([head("/", [json, `content-length: ${bom.length}`]), bom])).toEqual({ value: { a: 1 } });
    const broken = Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]);
    expect(await send([head("/", [json, `content-length: ${broken.length}`]), broken])).toEqual({
      status: 400,
      code: "invalid_json",
    });
  });

  it("refuses another content type (415) and a body over the limit, declared or streamed (413)", async () => {
    expect(await send([head("/", ["content-type: text/plain", "content-length: 2"]), "{}"])).toEqual({
      status: 415,
      code: "unsupported_media_type",
    });
    expect(await send([head("/", [json, `content-length: ${LIMIT + 1}`])])).toEqual({
      status: 413,
      code: "body_too_large",
    });
    const chunk = `${(LIMIT / 2 + 1).toString(16)}\r\n${"x".repeat(LIMIT / 2 + 1)}\r\n`;
    expect(await send([head("/", [json, "transfer-encoding: chunked"]), chunk, chunk])).toEqual({
      status: 413,
      code: "body_too_large",
    });
  });

  it("fails, rather than waiting forever, when the client goes away before the body ends", async () => {
    expect(await send([head("/", [json, "content-length: 40"]), '{"a":'], { hangUp: true })).toEqual({ status: 0 });
  });
});
