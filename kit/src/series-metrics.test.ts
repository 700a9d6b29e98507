import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { LATENCY_BUCKETS } from "./metrics.ts";
import { SeriesCounter, SeriesHistogram } from "./series-metrics.ts";

const labelNames = ["route", "method"] as const;

/** The same records, made through prom-client's own metrics and through the series metrics. */
function twins() {
  const theirs = new Registry();
  const ours = new Registry();
  for (const registry of [theirs, ours]) registry.setDefaultLabels({ service: "test" });
  const config = (registers: Registry[]) => ({ help: "Help with a \\ and a\nnewline.", labelNames, registers });
  const counter = new Counter({ name: "requests_total", ...config([theirs]) });
  const histogram = new Histogram({ name: "request_seconds", buckets: LATENCY_BUCKETS, ...config([theirs]) });
  const seriesCounter = new SeriesCounter({ name: "requests_total", ...config([ours]) });
  const seriesHistogram = new SeriesHistogram({ name: "request_seconds", buckets: LATENCY_BUCKETS, ...config([ours]) });
  return {
    theirs,
    ours,
    record(route: string, method: string, seconds: number) {
      counter.inc({ route, method });
      histogram.observe({ route, method }, seconds);
      seriesCounter.series(route, method).inc();
      seriesHistogram.series(route, method).observe(seconds);
    },
  };
}

const record = fc.tuple(
  fc.constantFrom("/a", '/b"q"', "/c\\d", "/e\nf"),
  fc.constantFrom("GET", "POST"),
  fc.oneof(fc.constantFrom(0, 0.001, 0.0025, 1, 10, 10.5), fc.double({ min: 0, max: 20, noNaN: true })),
);

describe("series metrics", () => {
  it("expose exactly what prom-client's Counter and Histogram expose for the same records (seeded)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(record, { maxLength: 40 }), async (records) => {
        const { theirs, ours, record } = twins();
        for (const [route, method, seconds] of records) record(route, method, seconds);
        expect(await ours.metrics()).toBe(await theirs.metrics());
        expect(await ours.getMetricsAsJSON()).toEqual(await theirs.getMetricsAsJSON());
      }),
      { seed: 20261206, numRuns: 200 },
    );
  });

  it("start again from zero after a reset, listed in the order recorded afterwards", async () => {
    const { theirs, ours, record } = twins();
    record("/a", "GET", 0.2);
    record("/b", "GET", 0.3);
    theirs.resetMetrics();
    ours.resetMetrics();
    record("/b", "GET", 0.004);
    record("/a", "POST", 3);
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("bind one series per label values and refuse the wrong number of them", () => {
    const counter = new SeriesCounter({ name: "bound_total", help: "h", labelNames, registers: [] });
    expect(counter.series("/a", "GET")).toBe(counter.series("/a", "GET"));
    expect(() => counter.series("/a")).toThrow(/2 label values expected/);
    const histogram = new SeriesHistogram({
      name: "bound_seconds",
      help: "h",
      labelNames,
      buckets: [1],
      registers: [],
    });
    expect(() => histogram.series("/a", "GET").observe(Number.NaN)).toThrow(TypeError);
  });
});
