import { count, parseConfig } from "@mypay/kit";

/**
 * The launcher's V8 heap settings for each service process. On a machine with plenty of memory V8 lets
 * garbage pile up to a few hundred MB per process before collecting, and a large young generation makes
 * each scavenge pause longer; bounded, a service stays near 150 MB under full load at the same CPU cost.
 */
export const heapSettings = {
  NODE_SEMI_SPACE_MB: count(4, 256),
  NODE_OLD_SPACE_MB: count(128, 65_536),
};

/** Node flags for a service process, from the environment; throws ConfigError naming a bad setting. */
export function serviceNodeFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const heap = parseConfig(heapSettings, env);
  return [`--max-semi-space-size=${heap.NODE_SEMI_SPACE_MB}`, `--max-old-space-size=${heap.NODE_OLD_SPACE_MB}`];
}
