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

/** grpc.health.v1.Health backed by the same readiness check as `/readyz`. */
export function healthService(ready: ReadinessCheck, pollMs = 1000): ServiceImpl<typeof Health> {
  const status = async (): Promise<HealthCheckResponse_ServingStatus> =>
    (await ready().catch(() => false)) ? ServingStatus.SERVING : ServingStatus.NOT_SERVING;
  return {
    async check() {
      return create(HealthCheckResponseSchema, { status: await status() });
    },
    async *watch(_req, ctx) {
      let last: HealthCheckResponse_ServingStatus | undefined;
      while (!ctx.signal.aborted) {
        const now = await status();
        if (now !== last) yield create(HealthCheckResponseSchema, { status: now });
        last = now;
        await new Promise((resolve) => setTimeout(resolve, pollMs).unref());
      }
    },
    async list() {
      return { statuses: { "": create(HealthCheckResponseSchema, { status: await status() }) } };
    },
  };
}
