/**
 * Money at the edges: decimal strings such as "1000.00" ⇄ whole minor units as bigint.
 * Floating point never touches an amount; numbers are accepted only when they are
 * exactly representable decimal literals with at most the currency's decimals.
 */

/** Minor-unit exponent per currency we accept. PKR has 2 decimals. */
const EXPONENTS: Record<string, number> = { PKR: 2, USD: 2, EUR: 2, GBP: 2, AED: 2, JPY: 0 };

/** The largest amount accepted anywhere (in minor units): 10^15, far inside int64. */
export const MAX_MINOR_UNITS = 10n ** 15n;

export function currencyExponent(currency: string): number | undefined {
  return EXPONENTS[currency];
}

export type ParseAmountResult = { ok: true; minor: bigint } | { ok: false; message: string };

/** Parses "1000", "1000.5", "1000.50" or the JSON number 1000.5 into minor units. */
export function parseAmount(value: unknown, currency: string): ParseAmountResult {
  const exponent = currencyExponent(currency);
  if (exponent === undefined) return { ok: false, message: `unsupported currency ${currency}` };
  let text: string;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return { ok: false, message: "must be a finite number" };
    text = String(value);
  } else if (typeof value === "string") {
    text = value.trim();
  } else {
    return { ok: false, message: 'must be a decimal string such as "1000.00"' };
  }
  const match = /^(\d{1,16})(?:\.(\d+))?$/.exec(text);
  if (!match) return { ok: false, message: 'must be a positive decimal such as "1000.00"' };
  const [, whole = "0", fraction = ""] = match;
  if (fraction.length > exponent) {
    return { ok: false, message: `at most ${exponent} decimal places for ${currency}` };
  }
  const minor = BigInt(whole) * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, "0") || "0");
  if (minor <= 0n) return { ok: false, message: "must be greater than 0" };
  if (minor > MAX_MINOR_UNITS) return { ok: false, message: "is too large" };
  return { ok: true, minor };
}

/** Formats minor units as a decimal string with exactly the currency's decimals ("1000.00"). */
export function formatAmount(minor: bigint, currency: string): string {
  const exponent = currencyExponent(currency) ?? 2;
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, "0");
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  return `${negative ? "-" : ""}${whole}${exponent ? `.${fraction}` : ""}`;
}
