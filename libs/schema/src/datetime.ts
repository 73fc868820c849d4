/**
 * `dateTimePlayed` as partners send it: ISO 8601 with a zone (`Z` or `±hh:mm`) and up to 7 fractional
 * digits (.NET clients send 100-ns ticks). JavaScript dates hold milliseconds, so the instant is kept as
 * whole epoch seconds plus a 7-digit fraction string: exact, comparable, and the basis of play identity.
 */
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

export interface Instant {
  /** Whole seconds since the Unix epoch (UTC). */
  readonly epochSeconds: number;
  /** Fraction of the second, exactly 7 digits (100-ns ticks), right-padded with zeros. */
  readonly fraction: string;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function daysIn(year: number, month: number): number {
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!;
}

/** Parses a zoned ISO 8601 date-time; returns undefined for anything else (including impossible dates). */
export function parseDateTime(text: string): Instant | undefined {
  const m = ISO_8601.exec(text);
  if (!m) return undefined;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (!m[8]) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 14 || om > 59) return undefined;
    offsetMinutes = (m[9] === '-' ? -1 : 1) * (oh * 60 + om);
  }
  const utcMs = Date.UTC(year, month - 1, day, hour, minute, second);
  if (Number.isNaN(utcMs)) return undefined;
  return { epochSeconds: utcMs / 1000 - offsetMinutes * 60, fraction: (m[7] ?? '').padEnd(7, '0') };
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
  return `${new Date(i.epochSeconds * 1000).toISOString().slice(0, 19)}.${i.fraction.slice(0, 6)}Z`;
}

export const DAY_MS = 86_400_000;
