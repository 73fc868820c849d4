import { type Pool } from '@playlog/db';
import type { KafkaLogger } from '@playlog/kafka';
import { addDays, dayClosesAt, LIMITS, startOfDay, today } from '@playlog/schema';
import type { Gauge } from 'prom-client';
import { periodic } from './periodic.js';

export interface CoverageGauges {
  /** Closed client-days with reportable plays and no final version. */
  unreported: Gauge;
  /** Seconds since the oldest of them closed (0 when none). */
  oldestUnreported: Gauge;
  /** Versions issued, by status: the reporter's output, for rate() over time. */
  versions: Gauge<'status'>;
  /** First versions issued after the night that followed their day: days a plain run caught up. */
  caughtUp: Gauge;
}

/**
 * Whether the nightly reports keep up, measured where the plays are: every `everyMs`, the closed days
 * of the window (LIMITS.windowDays, in REPORT_TIMEZONE) that hold reportable plays (play_buckets) and have
 * no final version (report_versions). Closed means what the reporter means by it (libs/schema's
 * dayClosesAt: the day's end plus CLOCK_SKEW_SECONDS), decided here with the same function, not again in
 * SQL. The reporter is a CronJob with nothing to scrape; the loader always runs at the core, so it exports
 * these. An alert fires when such a day stays unreported (ops/prometheus: PlaylogDayUnreported).
 */
export function reportCoverage(
  pool: Pool,
  timezone: string,
  skewSeconds: number,
  everyMs: number,
  gauges: CoverageGauges,
  log: KafkaLogger,
  now: () => number = Date.now,
) {
  async function run(): Promise<void> {
    try {
      const at = now();
      const from = startOfDay(addDays(today(timezone, new Date(at)), -LIMITS.windowDays), timezone);
      // Candidates: client-days with reportable plays in the window and no final version, closed or not.
      const r = await pool.query<{ day: string }>(
        `select to_char(d.day, 'YYYY-MM-DD') as day from (
           select client, (bucket at time zone $1)::date as day from play_buckets
            where bucket >= $2 group by 1, 2 having sum(plays) > 0
         ) d
         where not exists (select 1 from report_versions v where v.client = d.client and v.day = d.day and v.status = 'final')`,
        [timezone, new Date(from)],
      );
      const closed = r.rows.map((row) => dayClosesAt(row.day, timezone, skewSeconds)).filter((closesAt) => closesAt <= at);
      gauges.unreported.set(closed.length);
      gauges.oldestUnreported.set(closed.length > 0 ? (at - closed.reduce((a, b) => Math.min(a, b))) / 1000 : 0);
      const v = await pool.query<{ status: string; n: number }>(`select status, count(*)::int as n from report_versions group by status`);
      for (const status of ['final', 'provisional']) gauges.versions.set({ status }, v.rows.find((x) => x.status === status)?.n ?? 0);
      const late = await pool.query<{ n: number }>(
        `select count(*)::int as n from report_versions where version = 1 and (generated_at at time zone timezone)::date > day + 1`,
      );
      gauges.caughtUp.set(late.rows[0]!.n);
    } catch (err) {
      log.warn({ err }, 'report coverage not measured; will retry');
    }
  }
  return periodic(everyMs, run);
}
