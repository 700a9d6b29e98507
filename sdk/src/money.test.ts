import { describe, expect, it } from "vitest";
import { addAmounts, compareAmounts, formatAmount, fromMinorUnits, toMinorUnits } from "./money.ts";

describe("money helpers", () => {
  it.each([
    ["1000.00", "PKR", 100000n],
    ["1000", "PKR", 100000n],
    ["1000.5", "PKR", 100050n],
    ["0.01", "PKR", 1n],
    ["-12.30", "PKR", -1230n],
    ["500", "JPY", 500n],
    ["99999999999999.99", "PKR", 9999999999999999n],
  ])("parses %s %s exactly", (amount, currency, minor) => {
    expect(toMinorUnits(amount, currency)).toBe(minor);
  });

  it.each([
    ["1000.001", "PKR", /more than 2 decimal places/],
    ["12.5", "JPY", /more than 0 decimal places/],
    ["1e3", "PKR", /not a decimal amount/],
    ["1,000.00", "PKR", /not a decimal amount/],
    [" 10", "PKR", /not a decimal amount/],
    ["", "PKR", /not a decimal amount/],
  ])("refuses %j for %s", (amount, currency, why) => {
    expect(() => toMinorUnits(amount, currency)).toThrow(why);
  });

  it("refuses numbers, so floats never carry money", () => {
    expect(() => toMinorUnits(0.1 as unknown as string, "PKR")).toThrow(/decimal string/);
  });

  it("formats minor units with the currency's decimals", () => {
    expect(fromMinorUnits(100000n, "PKR")).toBe("1000.00");
    expect(fromMinorUnits(5n, "PKR")).toBe("0.05");
    expect(fromMinorUnits(-1230n, "PKR")).toBe("-12.30");
    expect(fromMinorUnits(500n, "JPY")).toBe("500");
    expect(fromMinorUnits(10n ** 17n + 1n, "PKR")).toBe("1000000000000000.01");
    expect(formatAmount("7.5", "PKR")).toBe("7.50");
  });

  it("adds and compares exactly where floats would not", () => {
    expect(addAmounts("PKR", "0.10", "0.20")).toBe("0.30");
    expect(addAmounts("PKR", "1000.00", "-999.99")).toBe("0.01");
    expect(compareAmounts("0.30", "0.3", "PKR")).toBe(0);
    expect(compareAmounts("100.01", "100.1", "PKR")).toBe(-1);
  });

  it("round-trips every amount (seeded sample)", () => {
    let seed = 42;
    const next = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed;
    };
    for (let i = 0; i < 500; i++) {
      const minor = BigInt(next()) * BigInt(next());
      expect(toMinorUnits(fromMinorUnits(minor, "PKR"), "PKR")).toBe(minor);
    }
  });
});
