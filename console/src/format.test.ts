import { describe, expect, it } from "vitest";
import { formatLatency, formatMoney, formatTime, maskKey } from "./format.ts";

/** Intl separates the code with a no-break space; compare with plain spaces. */
const money = (amount: string, currency: string, locale: string) =>
  formatMoney(amount, currency, locale).replace(/\s/g, " ");

describe("formatMoney", () => {
  it("groups and keeps the currency's decimals", () => {
    expect(money("1000000.00", "PKR", "en-US")).toBe("PKR 1,000,000.00");
    expect(money("0.5", "PKR", "en-US")).toBe("PKR 0.50");
    expect(money("-1000.00", "PKR", "en-US")).toBe("-PKR 1,000.00");
  });

  it("is exact past the range of a float", () => {
    // 2^53 + 1 with cents: a Number would print …992.00
    expect(money("9007199254740993.07", "PKR", "en-US")).toBe("PKR 9,007,199,254,740,993.07");
  });

  it("follows the viewer's locale", () => {
    expect(money("1234567.89", "PKR", "de-DE")).toBe("1.234.567,89 PKR");
  });

  it("shows a malformed amount as given instead of inventing one", () => {
    expect(money("12abc", "PKR", "en-US")).toBe("12abc PKR");
  });
});

describe("formatTime, formatLatency, maskKey", () => {
  it("formats times in the given locale and says — for none", () => {
    expect(formatTime(null)).toBe("—");
    expect(formatTime("not a time")).toBe("not a time");
    const shown = formatTime("2026-11-25T10:00:01.234Z", "en-GB");
    expect(shown).toMatch(/25 Nov 2026/);
  });

  it("formats latency and masks keys", () => {
    expect(formatLatency(42.4)).toBe("42 ms");
    expect(formatLatency(1340)).toBe("1.3 s");
    expect(maskKey("mypay_test_sandbox_4f7c2a9e1b3d5f60")).toBe("mypay_test_…5f60");
    expect(maskKey("mypay_admin_sandbox_7d2e9b4c1a6f3e80")).toBe("mypay_admin_…3e80");
  });
});
