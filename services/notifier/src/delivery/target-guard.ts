import { lookup } from "node:dns/promises";
import type { LookupFunction } from "node:net";
import { parseTargetUrl, refusalOf } from "../domain/target-policy.ts";

/** Resolves a host name to all of its addresses. */
export type Resolver = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export interface TargetPolicy {
  /** Sandbox mode: loopback targets are allowed. Private and metadata targets never are. */
  allowLoopback: boolean;
  resolve: Resolver;
}

/** Name lookups that take longer than this fail, so a stuck resolver cannot hold a request. */
const LOOKUP_TIMEOUT_MS = 5_000;

/** The operating system's resolver (as used for connections), bounded in time. */
export const systemResolver: Resolver = async (hostname) => {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`lookup ${hostname} timed out`), { code: "ETIMEOUT" })),
      LOOKUP_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([lookup(hostname, { all: true, verbatim: true }), timeout]);
  } finally {
    clearTimeout(timer);
  }
};

/** Raised instead of connecting to an address the policy forbids. */
export class TargetRefusedError extends Error {
  readonly code = "ETARGETREFUSED";
}

export type TargetCheck = { ok: true; url: URL } | { ok: false; message: string; unavailable?: boolean };

/**
 * Checks an endpoint URL: its form, then its host — the literal address, or every address the
 * name resolves to (one forbidden address refuses the whole name).
 */
export async function checkTarget(raw: string, policy: TargetPolicy): Promise<TargetCheck> {
  const parsed = parseTargetUrl(raw);
  if (!parsed.ok) return parsed;
  if (parsed.literal) {
    const refusal = refusalOf(parsed.host, policy.allowLoopback);
    return refusal ? { ok: false, message: `must not target ${refusal}` } : { ok: true, url: parsed.url };
  }
  let addresses: Array<{ address: string }>;
  try {
    addresses = await policy.resolve(parsed.host);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOTFOUND" || code === "ENODATA")
      return { ok: false, message: `host ${parsed.host} does not resolve` };
    return { ok: false, message: `host ${parsed.host} could not be resolved (${code ?? "error"})`, unavailable: true };
  }
  if (addresses.length === 0) return { ok: false, message: `host ${parsed.host} does not resolve` };
  for (const { address } of addresses) {
    const refusal = refusalOf(address, policy.allowLoopback);
    if (refusal) return { ok: false, message: `must not target ${refusal} (${parsed.host})` };
  }
  return { ok: true, url: parsed.url };
}

/**
 * A `lookup` for sockets that resolves through the policy and fails with TargetRefusedError
 * before any connection when a resolved address is forbidden, so a host cannot be re-pointed
 * at an internal address after its endpoint was registered.
 */
export function guardedLookup(policy: TargetPolicy): LookupFunction {
  return (hostname, options, callback) => {
    policy.resolve(hostname).then(
      (all) => {
        const wanted =
          options.family === 4 || options.family === 6 ? all.filter((a) => a.family === options.family) : all;
        for (const { address } of all) {
          const refusal = refusalOf(address, policy.allowLoopback);
          if (refusal) return callback(new TargetRefusedError(`refused to connect to ${hostname}: ${refusal}`), "", 0);
        }
        const first = wanted[0];
        if (!first) {
          return callback(Object.assign(new Error(`${hostname} has no address`), { code: "ENOTFOUND" }), "", 0);
        }
        if (options.all) return callback(null, wanted);
        callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, "", 0),
    );
  };
}
