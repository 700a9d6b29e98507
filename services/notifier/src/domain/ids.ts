import { randomBytes } from "node:crypto";
import { orderedId } from "@mypay/kit";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/** Bytes at or above this would make some letters likelier than others. */
const UNBIASED_LIMIT = 256 - (256 % ALPHABET.length);

/** `prefix` + 22 random letters and digits (about 131 bits), e.g. `msg_5Zs1Q…`. */
export function randomId(prefix: string, length = 22): string {
  let out = prefix;
  while (out.length < prefix.length + length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < UNBIASED_LIMIT) out += ALPHABET[byte % ALPHABET.length];
      if (out.length === prefix.length + length) break;
    }
  }
  return out;
}

export const endpointId = () => randomId("ep_");
/**
 * A message id (the `webhook-id` of its attempts) sorts by creation time: messages are inserted for
 * good, and time-ordered keys keep their indexes' inserts on recent pages.
 */
export const messageId = () => `msg_${orderedId()}`;
