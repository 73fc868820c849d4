import { type Pool } from '@playlog/db';
import type { KafkaLogger } from '@playlog/kafka';
import { LIMITS } from '@playlog/schema';
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
 * of the window (LIMITS.windowDays, in REPORT_TIMEZONE, closed once their end plus CLOCK_SKEW_SECONDS has passed) that
 * hold reportable plays (play_buckets) and have no final version (report_versions). The reporter is a
 * CronJob with nothing to scrape; the loader always runs at the core, so it exports these. An alert
 * fires when such a day stays unreported (ops/prometheus: PlaylogDayUnreported).
 */
export function reportCoverage(
  pool: Pool,
  timezone: string,
  skewSeconds: number,
  everyMs: number,
  gauges: CoverageGauges,
  log: KafkaLogger,
) {
  async function run(): Promise<void> {
    try {
      const r = await pool.query<{ days: number; oldest: number | null }>(
        `with days as (
           select client, (bucket at time zone $1)::date as day from play_buckets
            where bucket >= (((now() at time zone $1)::date - $3::int)::timestamp at time zone $1) group by 1, 2 having sum(plays) > 0
         ), closed as (
           select client, day, ((day + 1)::timestamp at time zone $1) + make_interval(secs => $2) as closed_at from days
         )
         select count(*)::int as days, extract(epoch from now() - min(closed_at))::float8 as oldest
           from closed c
          where closed_at <= now()
            and not exists (select 1 from report_versions v where v.client = c.client and v.day = c.day and v.status = 'final')`,
        [timezone, skewSeconds, LIMITS.windowDays],
      );
      gauges.unreported.set(r.rows[0]!.days);
      gauges.oldestUnreported.set(r.rows[0]!.oldest ?? 0);
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
