/**
 * Money helpers: amounts travel as decimal strings ("1000.00") and are computed on as whole minor
 * units (bigint). Floating point never touches an amount: numbers are refused on purpose.
 */

/** Decimal places per currency the platform knows; any other currency is taken to have 2. */
const EXPONENTS: Readonly<Record<string, number>> = { PKR: 2, USD: 2, EUR: 2, GBP: 2, AED: 2, JPY: 0 };

/** Number of decimal places of `currency` (PKR: 2, JPY: 0; unknown ISO-4217 codes: 2). */
export function currencyExponent(currency: string): number {
  return EXPONENTS[currency.toUpperCase()] ?? 2;
}

/**
 * Parses a decimal string such as `"1000"`, `"1000.5"` or `"-12.30"` into minor units of `currency`.
 * Throws `RangeError` for anything else: numbers (floats are never accepted for money), more decimals
 * than the currency has, exponents, separators or blanks.
 */
export function toMinorUnits(amount: string, currency: string): bigint {
  if (typeof amount !== "string") {
    throw new RangeError(`amount must be a decimal string such as "1000.00", not a ${typeof amount}`);
  }
  const match = /^(-?)(\d{1,18})(?:\.(\d+))?$/.exec(amount);
  if (!match) throw new RangeError(`"${amount}" is not a decimal amount such as "1000.00"`);
  const [, sign, whole = "0", fraction = ""] = match;
  const exponent = currencyExponent(currency);
  if (fraction.length > exponent) {
    throw new RangeError(`"${amount}" has more than ${exponent} decimal places for ${currency}`);
  }
  const minor = BigInt(whole) * 10n ** BigInt(exponent) + BigInt(fraction.padEnd(exponent, "0") || "0");
  return sign ? -minor : minor;
}

/** Formats minor units as a decimal string with exactly the currency's decimals (`100000n, "PKR"` → `"1000.00"`). */
export function fromMinorUnits(minor: bigint, currency: string): string {
  const exponent = currencyExponent(currency);
  const negative = minor < 0n;
  const digits = (negative ? -minor : minor).toString().padStart(exponent + 1, "0");
  const whole = digits.slice(0, digits.length - exponent);
  const fraction = digits.slice(digits.length - exponent);
  return `${negative ? "-" : ""}${whole}${exponent ? `.${fraction}` : ""}`;
}

/** Normalises an amount to the currency's exact decimals (`"1000.5"` → `"1000.50"`); throws like {@link toMinorUnits}. */
export function formatAmount(amount: string, currency: string): string {
  return fromMinorUnits(toMinorUnits(amount, currency), currency);
}

/** Adds decimal amounts of one currency exactly (`addAmounts("PKR", "0.10", "0.20")` → `"0.30"`). */
export function addAmounts(currency: string, ...amounts: string[]): string {
  return fromMinorUnits(
    amounts.reduce((sum, amount) => sum + toMinorUnits(amount, currency), 0n),
    currency,
  );
}

/** Compares two decimal amounts of one currency: -1, 0 or 1. */
export function compareAmounts(a: string, b: string, currency: string): -1 | 0 | 1 {
  const x = toMinorUnits(a, currency);
  const y = toMinorUnits(b, currency);
  return x < y ? -1 : x > y ? 1 : 0;
}
