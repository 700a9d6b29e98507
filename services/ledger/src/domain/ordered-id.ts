import { randomBytes } from "node:crypto";

/** Tells this process's ids from every other's. */
const processTag = randomBytes(6).toString("hex");
let counter = 0;

/**
 * A new row id that sorts by creation time: 48-bit milliseconds, a random tag per process and a
 * counter within the process (32 hex digits). Clustered primary keys then grow at their right edge
 * instead of splitting pages at random, as UUIDv4 keys do.
 */
export function orderedId(): string {
  counter = (counter + 1) % 0x1_0000_0000;
  return `${Date.now().toString(16).padStart(12, "0")}${processTag}${counter.toString(16).padStart(8, "0")}`;
}
