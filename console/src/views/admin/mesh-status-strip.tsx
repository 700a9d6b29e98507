import { formatLatency } from "../../format.ts";
import { useAdmin } from "../../session.ts";
import { useAsync } from "../../use-async.ts";

/** Seconds as `"0.4 s"` / `"3 min"`: lag is read at a glance. */
function formatLag(seconds: number): string {
  return seconds < 120 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds / 60)} min`;
}

/** Lag past this is shown as a warning: the processor is falling behind. */
const LAG_WARN_SECONDS = 5;

/** A live strip of each service's readiness and latency, the processor's lag and the outbox backlog. */
export function MeshStatusStrip() {
  const admin = useAdmin();
  const { state } = useAsync((signal) => admin.meshStatus({ signal, maxRetries: 0 }), [admin], { refreshMs: 3000 });
  return (
    <section class="mesh-strip" aria-label="Mesh status" data-testid="mesh-status">
      {state.status === "loading" && <span class="muted">Checking the mesh…</span>}
      {state.status === "error" && (
        <span class="chip-static bad" role="alert">
          Mesh status unavailable
        </span>
      )}
      {state.status === "ready" && (
        <>
          {state.data.services.map((s) => (
            <span key={s.name} class={`chip-static ${s.status === "ready" ? "good" : "bad"}`}>
              <span class="dot" aria-hidden="true" />
              {s.name}{" "}
              <span class="muted">
                {s.status !== "ready"
                  ? s.status.replace("_", " ")
                  : s.name === "gateway"
                    ? "serving"
                    : formatLatency(s.latencyMs)}
              </span>
            </span>
          ))}
          <span
            class={`chip-static ${
              state.data.processorLagSeconds !== null && state.data.processorLagSeconds > LAG_WARN_SECONDS ? "warn" : ""
            }`}
          >
            Processor lag{" "}
            <strong>
              {state.data.processorLagSeconds === null ? "unknown" : formatLag(state.data.processorLagSeconds)}
            </strong>
          </span>
          <span class="chip-static">
            Outbox backlog <strong>{state.data.outboxBacklog ?? "unknown"}</strong>
          </span>
          {state.refreshError !== null && <span class="chip-static bad">stale</span>}
        </>
      )}
    </section>
  );
}
