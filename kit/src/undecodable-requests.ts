import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createContextKey, createContextValues, type Interceptor } from "@connectrpc/connect";
import type { UniversalHandler, UniversalServerRequest } from "@connectrpc/connect/protocol";
import { encodeEnvelope, readEnvelope } from "./grpc-envelope.ts";

/**
 * connect-es reports a request body that is not valid protobuf as INTERNAL ("parse binary: …", a
 * Connect HTTP 500), although the mistake is the caller's. These helpers screen the body of unary
 * binary requests before connect-es sees it: an undecodable message is swapped for an empty one and
 * flagged, and `rejectUndecodableRequests` (the first interceptor) answers the flag with
 * INVALID_ARGUMENT, which connect-es then writes in whatever protocol the caller spoke.
 */
const undecodable = createContextKey<string | undefined>(undefined, { description: "undecodable request body" });

/** First in the interceptor chain: turns a flagged request into INVALID_ARGUMENT. */
export const rejectUndecodableRequests: Interceptor = (next) => (req) => {
  const reason = req.contextValues.get(undecodable);
  if (reason !== undefined) throw new ConnectError(reason, Code.InvalidArgument);
  return next(req);
};

const CONNECT_BINARY = "application/proto";
const ENVELOPED_BINARY = new Set([
  "application/grpc",
  "application/grpc+proto",
  "application/grpc-web",
  "application/grpc-web+proto",
]);
const EMPTY_ENVELOPE = encodeEnvelope(new Uint8Array(0));

/**
 * Wraps a connect-es handler so that a unary, uncompressed, binary request whose message does not
 * decode reaches `rejectUndecodableRequests` flagged. Anything else (JSON, streaming, compressed,
 * badly framed) passes through unchanged for connect-es to judge.
 */
export function screenUndecodableRequests(handler: UniversalHandler): UniversalHandler {
  if (handler.method.methodKind !== "unary") return handler;
  const screened = async (req: UniversalServerRequest) => {
    const type = (req.header.get("content-type") ?? "").split(";", 1)[0]?.trim().toLowerCase() ?? "";
    const enveloped = ENVELOPED_BINARY.has(type);
    if (req.method !== "POST" || (!enveloped && type !== CONNECT_BINARY) || isCompressed(req, enveloped)) {
      return handler(req);
    }
    const body = await readAll(req.body as AsyncIterable<Uint8Array>);
    const payload = enveloped ? framedPayload(body) : body;
    const contextValues = req.contextValues ?? createContextValues();
    if (payload !== undefined) {
      try {
        fromBinary(handler.method.input, payload);
      } catch (err) {
        contextValues.set(undecodable, `parse binary: ${err instanceof Error ? err.message : String(err)}`);
        const empty = enveloped ? EMPTY_ENVELOPE : new Uint8Array(0);
        // connect-es checks the body against content-length.
        const header = new Headers(req.header);
        header.set("content-length", String(empty.length));
        return handler({ ...req, header, contextValues, body: once(empty) });
      }
    }
    return handler({ ...req, contextValues, body: once(body) });
  };
  return Object.assign(screened, handler);
}

function isCompressed(req: UniversalServerRequest, enveloped: boolean): boolean {
  const encoding = req.header.get(enveloped ? "grpc-encoding" : "content-encoding");
  return encoding !== null && encoding !== "identity";
}

/** The payload of a body holding exactly one uncompressed frame; undefined when it does not. */
function framedPayload(body: Buffer): Uint8Array | undefined {
  try {
    return readEnvelope(body);
  } catch {
    return undefined;
  }
}

async function readAll(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function* once(bytes: Uint8Array): AsyncIterable<Uint8Array> {
  yield bytes;
}
