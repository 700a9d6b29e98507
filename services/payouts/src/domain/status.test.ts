import { describe, expect, it } from "vitest";
import { canTransition, fundsActionFor, isFinal, Status } from "./status.ts";

const ALL = Object.values(Status);

/**
 * The lifecycle as DESIGN §4 states it, plus PROCESSING → PENDING (the bank never answered: the
 * payout waits for another attempt without a merchant-visible change). Written out independently
 * of the implementation's table so that a change to either shows up here.
 */
const EXPECTED: ReadonlyArray<[Status, Status]> = [
  ["PENDING", "PROCESSING"],
  ["PENDING", "IN_REVIEW"],
  ["PENDING", "CANCELLED"],
  ["PROCESSING", "SUCCESS"],
  ["PROCESSING", "FAILED"],
  ["PROCESSING", "RETRY"],
  ["PROCESSING", "ON_HOLD"],
  ["PROCESSING", "PENDING"],
  ["RETRY", "PROCESSING"],
  ["IN_REVIEW", "PENDING"],
  ["IN_REVIEW", "FAILED"],
  ["IN_REVIEW", "CANCELLED"],
  ["ON_HOLD", "PENDING"],
  ["ON_HOLD", "FAILED"],
  ["ON_HOLD", "CANCELLED"],
];
const allowed = new Set(EXPECTED.map(([from, to]) => `${from}→${to}`));

describe("canTransition", () => {
  it("knows all eight states", () => {
    expect(ALL.sort()).toEqual(
      ["CANCELLED", "FAILED", "IN_REVIEW", "ON_HOLD", "PENDING", "PROCESSING", "RETRY", "SUCCESS"].sort(),
    );
  });

  it.each(EXPECTED)("allows %s → %s", (from, to) => {
    expect(canTransition(from, to)).toBe(true);
  });

  const forbidden = ALL.flatMap((from) => ALL.map((to) => [from, to] as [Status, Status])).filter(
    ([from, to]) => !allowed.has(`${from}→${to}`),
  );
  it.each(forbidden)("forbids %s → %s", (from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  it.each([
    ["a payout cannot skip processing", "PENDING", "SUCCESS"],
    ["a payout in review cannot be processed before approval", "IN_REVIEW", "PROCESSING"],
    ["a retry cannot be cancelled mid-flight", "RETRY", "CANCELLED"],
    ["a paid payout cannot be cancelled", "SUCCESS", "CANCELLED"],
    ["a failed payout cannot be retried", "FAILED", "RETRY"],
    ["a cancelled payout cannot be reopened", "CANCELLED", "PENDING"],
    ["a processing payout cannot be cancelled", "PROCESSING", "CANCELLED"],
  ] as const)("forbids what matters: %s (%s → %s)", (_why, from, to) => {
    expect(canTransition(from, to)).toBe(false);
  });

  it("never allows staying in the same state", () => {
    for (const status of ALL) expect(canTransition(status, status)).toBe(false);
  });
});

describe("isFinal", () => {
  it.each(ALL.map((s) => [s, ["SUCCESS", "FAILED", "CANCELLED"].includes(s)] as const))("%s → %s", (status, final) => {
    expect(isFinal(status)).toBe(final);
  });

  it("agrees with canTransition: a final state has no way out, any other state has one", () => {
    for (const from of ALL) expect(isFinal(from)).toBe(!ALL.some((to) => canTransition(from, to)));
  });
});

describe("fundsActionFor", () => {
  it.each([
    ["SUCCESS", "capture"],
    ["FAILED", "release"],
    ["CANCELLED", "release"],
    ["PENDING", undefined],
    ["PROCESSING", undefined],
    ["RETRY", undefined],
    ["ON_HOLD", undefined],
    ["IN_REVIEW", undefined],
  ] as const)("%s → %s", (status, action) => {
    expect(fundsActionFor(status)).toBe(action);
  });

  it("settles the hold exactly when a payout becomes final", () => {
    for (const status of ALL) expect(fundsActionFor(status) !== undefined).toBe(isFinal(status));
  });
});
