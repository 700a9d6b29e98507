import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { currencyExponent, formatAmount, MAX_MINOR_UNITS, parseAmount } from "./money.ts";

function minorOf(value: unknown, currency = "PKR"): bigint {
  const result = parseAmount(value, currency);
  if (!result.ok) throw new Error(`expected ${JSON.stringify(value)} to parse, got: ${result.message}`);
  return result.minor;
}

function rejection(value: unknown, currency = "PKR"): string {
  const result = parseAmount(value, currency);
  if (result.ok) throw new Error(`expected ${String(value)} to be rejected, got ${result.minor}`);
  return result.message;
}

describe("parseAmount", () => {
  it.each<[unknown, bigint]>([
    ["1000", 100_000n],
    ["1000.5", 100_050n],
    ["1000.50", 100_050n],
    [1000.5, 100_050n],
    [1000, 100_000n],
    ["0.01", 1n],
    [0.01, 1n],
    ["0.1", 10n],
    [" 12.34 ", 1234n],
    ["007.10", 710n],
    ["10000000000000", MAX_MINOR_UNITS],
    ["10000000000000.00", MAX_MINOR_UNITS],
    ["9999999999999.99", MAX_MINOR_UNITS - 1n],
  ])("reads %j as %s minor units of PKR", (value, expected) => {
    expect(minorOf(value)).toBe(expected);
  });

  it("uses the currency's own number of decimals", () => {
    expect(minorOf("1500", "JPY")).toBe(1500n);
    expect(minorOf(1500, "JPY")).toBe(1500n);
    expect(rejection("1500.5", "JPY")).toMatch(/at most 0 decimal places/);
    expect(minorOf("12.34", "USD")).toBe(1234n);
  });

  it.each<[string, unknown, RegExp]>([
    ["three decimals", "1.234", /at most 2 decimal places for PKR/],
    ["three decimals as a number", 1.234, /at most 2 decimal places/],
    ["a float artefact", 0.1 + 0.2, /at most 2 decimal places/],
    ["a negative string", "-1", /positive decimal/],
    ["a negative number", -1, /positive decimal/],
    ["zero", "0", /greater than 0/],
    ["zero with decimals", "0.00", /greater than 0/],
    ["the number zero", 0, /greater than 0/],
    ["exponent notation", "1e3", /positive decimal/],
    ["a number printed in exponent notation", 1e21, /positive decimal/],
    ["a tiny number printed in exponent notation", 1e-7, /positive decimal/],
    ["an empty string", "", /positive decimal/],
    ["a blank string", "   ", /positive decimal/],
    ["a trailing dot", "1.", /positive decimal/],
    ["a leading dot", ".5", /positive decimal/],
    ["a thousands separator", "1,000.00", /positive decimal/],
    ["a plus sign", "+5", /positive decimal/],
    ["hex", "0x10", /positive decimal/],
    ["non-ASCII digits", "١٢", /positive decimal/],
    ["null", null, /decimal string/],
    ["undefined", undefined, /decimal string/],
    ["a boolean", true, /decimal string/],
    ["a bigint", 100n, /decimal string/],
    ["an object", { amount: "1" }, /decimal string/],
    ["NaN", Number.NaN, /finite/],
    ["Infinity", Number.POSITIVE_INFINITY, /finite/],
    ["-Infinity", Number.NEGATIVE_INFINITY, /finite/],
    ["one minor unit past the maximum", "10000000000000.01", /too large/],
    ["seventeen whole digits", "12345678901234567", /positive decimal/],
    ["sixteen whole digits", "1234567890123456", /too large/],
  ])("rejects %s", (_name, value, message) => {
    expect(rejection(value)).toMatch(message);
  });

  it("rejects an unsupported or wrongly cased currency whatever the amount", () => {
    expect(rejection("10.00", "XXX")).toBe("unsupported currency XXX");
    expect(rejection("10.00", "pkr")).toBe("unsupported currency pkr");
    expect(rejection("10.00", "")).toMatch(/unsupported currency/);
  });
});

describe("formatAmount", () => {
  it.each<[bigint, string, string]>([
    [100_050n, "PKR", "1000.50"],
    [100_000n, "PKR", "1000.00"],
    [1n, "PKR", "0.01"],
    [10n, "PKR", "0.10"],
    [0n, "PKR", "0.00"],
    [-150n, "PKR", "-1.50"],
    [-1n, "PKR", "-0.01"],
    [MAX_MINOR_UNITS, "PKR", "10000000000000.00"],
    [1500n, "JPY", "1500"],
    [0n, "JPY", "0"],
    [-7n, "JPY", "-7"],
    [123n, "XXX", "1.23"],
  ])("formats %s minor units of %s as %j", (minor, currency, expected) => {
    expect(formatAmount(minor, currency)).toBe(expected);
  });
});

describe("round trips", () => {
  const currencies = ["PKR", "USD", "EUR", "GBP", "AED", "JPY"];
  const validMinor = fc.bigInt({ min: 1n, max: MAX_MINOR_UNITS });

  it("parses back every amount it formats, in every currency", () => {
    fc.assert(
      fc.property(validMinor, fc.constantFrom(...currencies), (minor, currency) => {
        expect(minorOf(formatAmount(minor, currency), currency)).toBe(minor);
      }),
      { numRuns: 2000 },
    );
  });

  it("gives the same minor units for a JSON number as for its decimal string", () => {
    // Up to 10^15 minor units (15 significant digits) a decimal survives the trip through a double.
    fc.assert(
      fc.property(validMinor, (minor) => {
        const text = formatAmount(minor, "PKR");
        expect(minorOf(Number(text))).toBe(minor);
        expect(minorOf(JSON.parse(JSON.stringify(Number(text))))).toBe(minor);
      }),
      { numRuns: 2000 },
    );
  });

  it("formats any accepted decimal string in canonical form with the same value", () => {
    const decimal = fc
      .tuple(fc.bigInt({ min: 0n, max: 9_999_999_999_999n }), fc.stringMatching(/^(|\.\d{1,2})$/))
      .map(([whole, fraction]) => `${whole}${fraction}`);
    fc.assert(
      fc.property(decimal, (text) => {
        const result = parseAmount(text, "PKR");
        const [whole = "0", fraction = ""] = text.split(".");
        const expected = BigInt(whole) * 100n + BigInt(fraction.padEnd(2, "0"));
        if (expected === 0n) {
          expect(result.ok).toBe(false);
          return;
        }
        expect(result).toEqual({ ok: true, minor: expected });
        const formatted = formatAmount(expected, "PKR");
        expect(formatted).toMatch(/^(0|[1-9]\d*)\.\d{2}$/);
        expect(minorOf(formatted)).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it("never accepts more decimals than the currency has", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...currencies),
        fc.nat({ max: 1_000_000 }),
        fc.integer({ min: 1, max: 9 }),
        (c, w, d) => {
          const exponent = currencyExponent(c)!;
          const text = `${w}.${"0".repeat(exponent)}${d}`;
          expect(parseAmount(text, c).ok).toBe(false);
        },
      ),
    );
  });
});
