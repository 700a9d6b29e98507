import { ConfigError, parseConfig } from "@mypay/kit";
import { describe, expect, it } from "vitest";
import { notifierSettings } from "./config.ts";

describe("notifier settings", () => {
  it("has the documented defaults", () => {
    const config = parseConfig(notifierSettings, {});
    expect(config).toMatchObject({
      NOTIFIER_PORT: 50053,
      NOTIFIER_HOST: "127.0.0.1",
      NOTIFIER_ALLOW_LOOPBACK: true,
      NOTIFIER_TICK_SECONDS: 1,
      NOTIFIER_BATCH_SIZE: 128,
      NOTIFIER_CONCURRENCY: 128,
      NOTIFIER_TIMEOUT_MS: 30_000,
      NOTIFIER_ENDPOINT_CONCURRENCY: 32,
      NOTIFIER_LEASE_MARGIN_MS: 10_000,
      NOTIFIER_RETRY_AFTER_MAX: 3_600_000,
      NOTIFIER_SECRET_GRACE_HOURS: 24,
      NOTIFIER_DISABLE_AFTER_HOURS: 120,
      NOTIFIER_MAX_BACKLOG: 100_000,
    });
    expect(config.NOTIFIER_RETRY_SCHEDULE).toEqual([
      0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
  });

  it("reads overrides and names a bad one", () => {
    const config = parseConfig(notifierSettings, {
      NOTIFIER_ALLOW_LOOPBACK: "false",
      NOTIFIER_RETRY_SCHEDULE: "1s,1m",
      NOTIFIER_TIMEOUT_MS: "500",
    });
    expect(config.NOTIFIER_ALLOW_LOOPBACK).toBe(false);
    expect(config.NOTIFIER_RETRY_SCHEDULE).toEqual([1_000, 60_000]);
    expect(config.NOTIFIER_TIMEOUT_MS).toBe(500);
    expect(() => parseConfig(notifierSettings, { NOTIFIER_RETRY_SCHEDULE: "5s,soon" })).toThrow(
      /NOTIFIER_RETRY_SCHEDULE.*"soon"/,
    );
    expect(() => parseConfig(notifierSettings, { NOTIFIER_TICK_SECONDS: "60" })).toThrow(ConfigError);
    expect(() => parseConfig(notifierSettings, { NOTIFIER_TIMEOUT_MS: "0" })).toThrow(/NOTIFIER_TIMEOUT_MS/);
  });
});
