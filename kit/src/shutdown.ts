import type { Logger } from "./logger.ts";

/**
 * Runs `steps` in order on SIGTERM or SIGINT (stop accepting, drain, close storage), then exits 0.
 * If they take longer than `timeoutMs` the process exits 1 so a supervisor is never left waiting.
 */
export function onShutdown(logger: Logger, timeoutMs: number, steps: Array<() => Promise<unknown> | unknown>): void {
  let started = false;
  const shutdown = async (signal: string) => {
    if (started) return;
    started = true;
    logger.info({ signal }, "shutting down");
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, "shutdown timed out");
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    try {
      for (const step of steps) await step();
      logger.info("stopped");
      process.exit(0);
    } catch (err) {
      logger.error({ err }, "shutdown failed");
      process.exit(1);
    }
  };
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
  process.once("SIGINT", () => void shutdown("SIGINT"));
}
