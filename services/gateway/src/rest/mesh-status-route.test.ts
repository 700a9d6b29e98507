import { describe, expect, it } from "vitest";
import { gaugeValue } from "./mesh-status-route.ts";

describe("gaugeValue", () => {
  const exposition = [
    "# HELP payout_processor_lag_seconds Age of the oldest due payout (0 when none is due).",
    "# TYPE payout_processor_lag_seconds gauge",
    'payout_processor_lag_seconds{service="payouts"} 12.5',
    "payout_outbox_backlog 3",
    'payout_processor_lag_seconds_other{service="payouts"} 99',
    "payout_broken NaN",
  ].join("\n");

  it("reads a gauge with or without labels, and not a longer name that starts the same", () => {
    expect(gaugeValue(exposition, "payout_processor_lag_seconds")).toBe(12.5);
    expect(gaugeValue(exposition, "payout_outbox_backlog")).toBe(3);
  });

  it("answers null for a missing or non-finite gauge", () => {
    expect(gaugeValue(exposition, "payout_missing")).toBeNull();
    expect(gaugeValue(exposition, "payout_broken")).toBeNull();
  });
});
