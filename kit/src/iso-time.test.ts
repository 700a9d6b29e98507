import { timestampDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isoTime } from "./iso-time.ts";

const reference = (t: Parameters<typeof timestampDate>[0]) => timestampDate(t).toISOString();

describe("isoTime", () => {
  it("is null for an unset time", () => {
    expect(isoTime(undefined)).toBeNull();
  });

  it("formats as toISOString does around day, year and era boundaries", () => {
    const edges = [
      0, -1, 1, 86_399_999, 86_400_000, -86_400_000, -86_400_001, 951_782_400_000, 1_767_225_599_999, 1_767_225_600_000,
      -62_167_219_200_000, -62_167_219_200_001, 253_402_300_799_999, 253_402_300_800_000, 8_640_000_000_000_000,
      -8_640_000_000_000_000,
    ];
    for (const ms of edges) expect(isoTime(timestampFromMs(ms)), String(ms)).toBe(new Date(ms).toISOString());
  });

  it("rounds nanoseconds to the millisecond as timestampDate does", () => {
    for (const nanos of [0, 1, 999_999, 1_000_000, 1_000_001, 999_000_001, 999_999_999]) {
      const t = { $typeName: "google.protobuf.Timestamp" as const, seconds: 1_767_225_599n, nanos };
      expect(isoTime(t), String(nanos)).toBe(reference(t));
    }
  });

  it("agrees with toISOString for any time a Date can hold, in any order (seeded)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -8_640_000_000_000, max: 8_639_999_999_999 }), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: 999_999_999 }),
        (seconds, nanos) => {
          for (const s of seconds) {
            const t = { $typeName: "google.protobuf.Timestamp" as const, seconds: BigInt(s), nanos };
            expect(isoTime(t)).toBe(reference(t));
          }
        },
      ),
      { seed: 20261206, numRuns: 2000 },
    );
  });

  it("agrees with toISOString for runs of nearby times, which reuse the formatted day (seeded)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 253_402_000_000_000 }),
        fc.array(fc.integer({ min: -172_800_000, max: 172_800_000 }), { minLength: 2, maxLength: 16 }),
        (base, offsets) => {
          for (const offset of offsets) {
            const ms = base + offset;
            expect(isoTime(timestampFromMs(ms))).toBe(new Date(ms).toISOString());
          }
        },
      ),
      { seed: 20261207, numRuns: 2000 },
    );
  });

  it("throws a RangeError past what a Date can hold, as toISOString does", () => {
    const t = { $typeName: "google.protobuf.Timestamp" as const, seconds: 8_640_000_000_001n, nanos: 0 };
    expect(() => reference(t)).toThrow(RangeError);
    expect(() => isoTime(t)).toThrow(RangeError);
  });
});
