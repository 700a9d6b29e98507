import { Code, ConnectError } from "@connectrpc/connect";

/** One gRPC length-prefixed message: flag byte 0 (uncompressed), 4-byte big-endian length, payload. */
export function encodeEnvelope(payload: Uint8Array): Buffer {
  const envelope = Buffer.allocUnsafe(5 + payload.length);
  envelope[0] = 0;
  envelope.writeUInt32BE(payload.length, 1);
  envelope.set(payload, 5);
  return envelope;
}

/**
 * The payload of a body that must hold exactly one uncompressed message (a unary request or
 * response). Throws INVALID_ARGUMENT naming what is wrong with the framing.
 */
export function readEnvelope(body: Buffer): Uint8Array {
  if (body.length < 5) {
    throw new ConnectError(body.length === 0 ? "missing message" : "truncated message frame", Code.InvalidArgument);
  }
  if (body[0] !== 0) throw new ConnectError("compressed or unknown message frame", Code.InvalidArgument);
  const length = body.readUInt32BE(1);
  if (body.length !== 5 + length) {
    throw new ConnectError(
      body.length < 5 + length ? "truncated message frame" : "more than one message",
      Code.InvalidArgument,
    );
  }
  return body.subarray(5);
}
