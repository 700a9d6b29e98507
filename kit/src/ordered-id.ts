import { randomBytes } from "node:crypto";

/** Tells this process's ids from every other's. */
const processTag = randomBytes(4).toString("hex");
let counter = 0;

/**
 * A new id that sorts by creation time, 28 hex digits: 48-bit milliseconds, a random tag per process
 * and a counter within the process, so it is unique without coordination. Give it to rows that are
 * inserted for good (payouts, holds, transfers, events, webhook messages): InnoDB then adds to the
 * right edge of each index keyed by it and keeps only those recent pages in memory, while random keys
 * (UUIDv4, hashes) spread every insert over the whole tree, which is read back from disk once the
 * tables outgrow the buffer pool. It tells when the row was made, never anything secret.
 */
export function orderedId(): string {
  counter = (counter + 1) % 0x1_0000_0000;
  return `${Date.now().toString(16).padStart(12, "0")}${processTag}${counter.toString(16).padStart(8, "0")}`;
}
