/**
 * `dateTimePlayed` as partners send it: ISO 8601 with a zone (`Z` or `±hh:mm`) and up to 7 fractional
 * digits (.NET clients send 100-ns ticks), i.e. `YYYY-MM-DD[Tt]hh:mm:ss(.f{1,7})?(Z|z|±hh:mm)` with ASCII
 * digits. JavaScript dates hold milliseconds, so the instant is kept as whole epoch seconds plus a
 * 7-digit fraction string: exact, comparable, and the basis of play identity.
 */
export interface Instant {
  /** Whole seconds since the Unix epoch (UTC). */
  readonly epochSeconds: number;
  /** Fraction of the second, exactly 7 digits (100-ns ticks), right-padded with zeros. */
  readonly fraction: string;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in a month (1-12) of a proleptic Gregorian year. */
export function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/** The `n` ASCII digits of `s` from `at` as a number, or -1 if any is not a digit. */
export function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let k = at; k < at + n; k++) {
    const d = s.charCodeAt(k) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

const at = (s: string, i: number, char: string): boolean => s.charCodeAt(i) === char.charCodeAt(0);

/** A fraction's digits start here, right after the seconds' '.', when there is one. */
const FRACTION_FROM = 20;

/** How many digits the fraction after the seconds has (0: none), scanning them. */
function fractionDigits(s: string): number {
  if (!at(s, 19, '.')) return 0;
  let i = FRACTION_FROM;
  while (i < s.length && digits(s, i, 1) >= 0) i++;
  return i - FRACTION_FROM;
}

/** The same for a text scanDateTime accepted, from its length: what is left once 'Z' or '±hh:mm' is off. */
function scannedFractionDigits(s: string): number {
  if (!at(s, 19, '.')) return 0;
  const zone = at(s, s.length - 1, 'Z') || at(s, s.length - 1, 'z') ? 1 : 6;
  return s.length - zone - FRACTION_FROM;
}

/**
 * Epoch seconds of a zoned ISO 8601 date-time (fraction aside), or NaN for anything else, including
 * impossible dates. Scans characters instead of matching a regular expression: ingest does this for
 * every play, and the match's array and substrings were a measurable share of its garbage.
 */
function scanDateTime(s: string): number {
  const n = s.length;
  if (n < 20 || n > 33) return Number.NaN;
  const year = digits(s, 0, 4);
  const month = digits(s, 5, 2);
  const day = digits(s, 8, 2);
  const hour = digits(s, 11, 2);
  const minute = digits(s, 14, 2);
  const second = digits(s, 17, 2);
  if (year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) return Number.NaN;
  if (!at(s, 4, '-') || !at(s, 7, '-') || !(at(s, 10, 'T') || at(s, 10, 't')) || !at(s, 13, ':') || !at(s, 16, ':')) {
    return Number.NaN;
  }
  let i = 19;
  if (at(s, i, '.')) {
    const fraction = fractionDigits(s);
    if (fraction < 1 || fraction > 7) return Number.NaN;
    i = FRACTION_FROM + fraction;
  }
  let offsetMinutes = 0;
  if (at(s, i, 'Z') || at(s, i, 'z')) {
    if (i + 1 !== n) return Number.NaN;
  } else if (at(s, i, '+') || at(s, i, '-')) {
    if (i + 6 !== n || !at(s, i + 3, ':')) return Number.NaN;
    const oh = digits(s, i + 1, 2);
    const om = digits(s, i + 4, 2);
    if (oh < 0 || om < 0 || oh > 14 || om > 59) return Number.NaN;
    offsetMinutes = (at(s, i, '-') ? -1 : 1) * (oh * 60 + om);
  } else return Number.NaN;
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return Number.NaN;
  if (hour > 23 || minute > 59 || second > 59) return Number.NaN;
  const utcMs = Date.UTC(year, month - 1, day, hour, minute, second);
  return utcMs / 1000 - offsetMinutes * 60;
}

/** Milliseconds in a unit of the fraction's k-th digit. */
const MS_SCALE = [0, 100, 10, 1];

/** Parses a zoned ISO 8601 date-time; returns undefined for anything else (including impossible dates). */
export function parseDateTime(text: string): Instant | undefined {
  const epochSeconds = scanDateTime(text);
  if (Number.isNaN(epochSeconds)) return undefined;
  return { epochSeconds, fraction: text.slice(FRACTION_FROM, FRACTION_FROM + scannedFractionDigits(text)).padEnd(7, '0') };
}

/**
 * The same instant as `instantMillis(parseDateTime(text))`, or NaN where parseDateTime gives undefined,
 * without building the instant: what ingest needs for its window check.
 */
export function dateTimeMillis(text: string): number {
  const epochSeconds = scanDateTime(text);
  if (Number.isNaN(epochSeconds)) return epochSeconds;
  const k = Math.min(3, scannedFractionDigits(text));
  return epochSeconds * 1000 + (k === 0 ? 0 : digits(text, FRACTION_FROM, k) * MS_SCALE[k]!);
}

/** The instant as a stable string, `seconds.fffffff`, used in play identity. */
export function instantKey(i: Instant): string {
  return `${i.epochSeconds}.${i.fraction}`;
}

/** Milliseconds since the epoch (fraction truncated), for window checks. */
export function instantMillis(i: Instant): number {
  return i.epochSeconds * 1000 + Number(i.fraction.slice(0, 3));
}

/**
 * The instant in UTC with microseconds (what Postgres timestamptz holds). The 7th digit is truncated,
 * never rounded, so a play at 23:59:59.9999999 stays on its day.
 */
export function instantIsoUtc(i: Instant): string {
  // Calendar fields by integer arithmetic (the days-to-civil algorithm of H. Hinnant, "chrono-compatible
  // low-level date algorithms"): a third of the CPU of formatting a Date, on every play ingested.
  const days = Math.floor(i.epochSeconds / 86_400);
  const sod = i.epochSeconds - days * 86_400;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const hour = Math.floor(sod / 3600);
  const minute = Math.floor((sod % 3600) / 60);
  const yyyy = year >= 1000 ? String(year) : String(year).padStart(4, '0');
  return `${yyyy}-${TWO[month]}-${TWO[day]}T${TWO[hour]}:${TWO[minute]}:${TWO[sod % 60]}.${i.fraction.slice(0, 6)}Z`;
}

const TWO = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));

export const DAY_MS = 86_400_000;
