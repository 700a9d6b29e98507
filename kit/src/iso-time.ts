import { type Timestamp, timestampMs } from "@bufbuild/protobuf/wkt";

const DAY_MS = 86_400_000;

/** The last day formatted: its `YYYY-MM-DDT` prefix, reused while times fall on that day. */
let cachedDay = Number.NaN;
let cachedPrefix = "";

function twoDigits(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/**
 * A protobuf Timestamp as RFC 3339 UTC with milliseconds (`2026-01-31T12:00:00.000Z`), exactly what
 * `timestampDate(t).toISOString()` gives, or null when unset.
 * `toISOString` costs about a microsecond on this kind of box and views format several times per
 * payout, so the date part is formatted once per day and the time of day by arithmetic. Throws a
 * RangeError for a time no Date can hold, as `toISOString` does.
 */
export function isoTime(t: Timestamp | undefined): string | null {
  if (!t) return null;
  const ms = timestampMs(t);
  const day = Math.floor(ms / DAY_MS);
  if (day !== cachedDay) {
    const text = new Date(ms).toISOString();
    // Years outside 0000–9999 are written with a sign and six digits: no prefix to reuse.
    if (text.length !== 24) return text;
    cachedDay = day;
    cachedPrefix = text.slice(0, 11);
  }
  let rest = ms - day * DAY_MS;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = Math.floor(rest / 1000);
  rest -= seconds * 1000;
  const millis = rest < 10 ? `00${rest}` : rest < 100 ? `0${rest}` : String(rest);
  return `${cachedPrefix}${twoDigits(hours)}:${twoDigits(minutes)}:${twoDigits(seconds)}.${millis}Z`;
}
