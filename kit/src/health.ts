import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import {
  Health,
  type HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from "@mypay/proto/grpc/health/v1/health";

export { Health };

/** Readiness probe: resolves true when the process can do useful work (e.g. its database answers). */
export type ReadinessCheck = () => Promise<boolean>;

/**
 * grpc.health.v1.Health backed by the same readiness check as `/readyz`. When `stopping` aborts
 * (the server is shutting down), open Watch streams report NOT_SERVING and end, so they do not
 * hold the graceful close open.
 */
export function healthService(
  ready: ReadinessCheck,
  pollMs = 1000,
  stopping?: AbortSignal,
): ServiceImpl<typeof Health> {
  const status = async (): Promise<HealthCheckResponse_ServingStatus> =>
    (await ready().catch(() => false)) ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  return {
    async check() {
      return create(HealthCheckResponseSchema, { status: await status() });
    },
    async *watch(_req, ctx) {
      const signal = stopping ? AbortSignal.any([ctx.signal, stopping]) : ctx.signal;
      let last: HealthCheckResponse_ServingStatus | undefined;
      while (!signal.aborted) {
        const now = await status();
        if (now !== last) yield create(HealthCheckResponseSchema, { status: now });
        last = now;
        await sleep(pollMs, undefined, { signal, ref: false }).catch(() => undefined);
      }
      if (stopping?.aborted && !ctx.signal.aborted && last !== ServingStatus.NOT_SERVING) {
        yield create(HealthCheckResponseSchema, { status: ServingStatus.NOT_SERVING });
      }
    },
    async list() {
      return { statuses: { "": create(HealthCheckResponseSchema, { status: await status() }) } };
    },
  };
}
