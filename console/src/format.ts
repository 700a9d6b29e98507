import { currencyExponent } from "@mypay/sdk";

/**
 * Amounts and times for people: amounts stay decimal strings from the API to the screen (Intl formats
 * a numeric string exactly, so no float ever touches money), times in the viewer's own locale and zone.
 */

const moneyFormats = new Map<string, Intl.NumberFormat>();

/** `"1000000.00"`, `"PKR"` → `"PKR 1,000,000.00"` (in the viewer's locale). A malformed amount is shown as given. */
export function formatMoney(amount: string, currency: string, locale?: string): string {
  if (!/^-?\d+(\.\d+)?$/.test(amount)) return `${amount} ${currency}`;
  const key = `${locale ?? ""}|${currency}`;
  let format = moneyFormats.get(key);
  if (!format) {
    // The mesh's exponent, not the locale data's (which shows PKR without decimals).
    const digits = currencyExponent(currency);
    format = new Intl.NumberFormat(locale, {
      style: "currency",
      currency,
      currencyDisplay: "code",
      minimumFractionDigits: digits,
      maximumFractionDigits: digits,
    });
    moneyFormats.set(key, format);
  }
  return format.format(amount as Intl.StringNumericLiteral);
}

/** An ISO time as a date and time in the viewer's locale and zone; "—" when absent. */
export function formatTime(iso: string | null | undefined, locale?: string): string {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(locale, { dateStyle: "medium", timeStyle: "medium" });
}

/** Milliseconds as `"42 ms"` / `"1.3 s"`. */
export function formatLatency(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** `"mypay_test_sandbox_4f7c2a9e1b3d5f60"` → `"mypay_test_…5f60"`: enough to tell keys apart on screen. */
export function maskKey(key: string): string {
  const prefix = /^mypay_(test|live|admin)_/.exec(key)?.[0] ?? "";
  return `${prefix}…${key.slice(-4)}`;
}
