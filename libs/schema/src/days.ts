/**
 * Calendar days as `YYYY-MM-DD` strings, in a given IANA time zone, and the reports' one rule for when a day
 * has closed (the reporter refuses an open day; the loader's coverage gauges count closed days unreported).
 */
import { LIMITS } from './play.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;

export function isDay(s: string): boolean {
  if (!DAY.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

export function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Today's date in the zone. */
export function today(timezone: string, now = new Date()): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(now);
}

export function dayRange(from: string, to: string): string[] {
  const out: string[] = [];
  for (let d = from; d <= to; d = addDays(d, 1)) out.push(d);
  return out;
}

const formats = new Map<string, Intl.DateTimeFormat>();

/** The zone's UTC offset at `utcMs`, in ms (positive east of Greenwich). */
function offsetAt(utcMs: number, timezone: string): number {
  let format = formats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formats.set(timezone, format);
  }
  const parts = format.formatToParts(new Date(utcMs));
  const n = (type: string) => Number(parts.find((p) => p.type === type)!.value);
  return Date.UTC(n('year'), n('month') - 1, n('day'), n('hour'), n('minute'), n('second')) - Math.floor(utcMs / 1000) * 1000;
}

/**
 * When `day` starts in the zone, as epoch ms, resolved as Postgres resolves `D::timestamp at time
 * zone Z` (the reports' SQL does), so both agree on which plays a day holds: a midnight that falls in
 * a DST gap is read with the offset before the change (the first instant of the day), one that occurs
 * twice with the offset after it.
 */
export function startOfDay(day: string, timezone: string): number {
  const wall = Date.parse(`${day}T00:00:00Z`);
  // Every zone's offset lies within ±15 h, so these two bracket any change around this midnight.
  const before = offsetAt(wall - 15 * HOUR, timezone);
  const after = offsetAt(wall + 15 * HOUR, timezone);
  const late = wall - after;
  return offsetAt(late, timezone) === after ? late : wall - before;
}

const HOUR = 3_600_000;

/**
 * When `day` closes: its end in the zone plus the clock skew ingest allows (a play may be dated up to
 * CLOCK_SKEW_SECONDS ahead of the receiving clock, so the last plays of a day can arrive until then).
 */
export function dayClosesAt(day: string, timezone: string, skewSeconds: number): number {
  return startOfDay(addDays(day, 1), timezone) + skewSeconds * 1000;
}

export interface DayCheck {
  ok: boolean;
  /** Why the day cannot be reported now (exit 2), when not ok. */
  why?: string;
}

/**
 * Whether `day` may be reported at `now`: closed in the zone, with the clock skew allowed on top (a
 * play may be dated up to CLOCK_SKEW_SECONDS ahead of the receiving clock, so the last plays of a day
 * can arrive until then), and not so old that none of its plays could still be accepted (ingest takes
 * plays less than `windowDays` old).
 */
export function reportableDay(
  day: string,
  timezone: string,
  skewSeconds: number,
  windowDays: number = LIMITS.windowDays,
  now = Date.now(),
): DayCheck {
  const end = startOfDay(addDays(day, 1), timezone);
  const closesAt = dayClosesAt(day, timezone, skewSeconds);
  if (startOfDay(day, timezone) > now) return { ok: false, why: `${day} is in the future in REPORT_TIMEZONE=${timezone}` };
  if (now < closesAt) {
    return {
      ok: false,
      why:
        `${day} has not closed yet in REPORT_TIMEZONE=${timezone}: it closes at ${new Date(closesAt).toISOString()} ` +
        `(the end of the day plus CLOCK_SKEW_SECONDS=${skewSeconds}); a report of an open day would not be final`,
    };
  }
  if (end <= now - windowDays * 86_400_000) {
    return {
      ok: false,
      why: `${day} is outside the ${windowDays}-day window: every play of it is ${windowDays} days old or more, so none can still arrive or be restated`,
    };
  }
  return { ok: true };
}
