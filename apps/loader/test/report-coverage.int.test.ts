import t from 'tap';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { createPool, playsWriter } from '@playlog/db';
import type { Play } from '@playlog/schema';
import { databaseAs, freshDatabase, testPlay } from '@playlog/testing';
import { loaderMetrics } from '../src/metrics.js';
import { reportCoverage } from '../src/report-coverage.js';

const DAY_MS = 86_400_000;

/** Play `i` at noon of `day`, or a second ago if that is still to come (today, before noon UTC), but in `day`. */
function play(client: string, day: string, i: number): Play {
  const at = Math.max(Date.parse(`${day}T00:00:00Z`), Math.min(Date.parse(`${day}T12:00:0${i}Z`), Date.now() - 1_000));
  return testPlay(client, i, new Date(at).toISOString());
}

t.test('the coverage gauges count closed client-days with plays and no final report, and how long the oldest waits', async (t) => {
  const { url, db } = await freshDatabase(t);
  const pool = createPool(databaseAs(url, 'loader'), 1, 'test-coverage');
  t.teardown(() => pool.end());
  const registry = new Registry();
  const metrics = loaderMetrics(registry);
  const gauges = {
    unreported: metrics.unreportedDays,
    oldestUnreported: metrics.oldestUnreportedDay,
    versions: metrics.reportVersions,
    caughtUp: metrics.reportDaysCaughtUp,
  };
  // The gauges' clock, pinned: the days below stay the same whenever the test runs (midnight included).
  const now = Date.now();
  const measure = async (at = now, skewSeconds = 0) => {
    const job = reportCoverage(pool, 'UTC', skewSeconds, 3_600_000, gauges, pino({ level: 'silent' }), () => at);
    await job.start();
    job.stop();
    const values = async (name: string) => (await registry.getSingleMetric(name)!.get()).values;
    return {
      days: (await values('playlog_report_unreported_days'))[0]!.value,
      oldest: (await values('playlog_report_oldest_unreported_day_seconds'))[0]!.value,
      final: (await values('playlog_report_versions')).find((v) => v.labels.status === 'final')?.value,
      caughtUp: (await values('playlog_report_days_caught_up'))[0]!.value,
    };
  };

  const utcDay = (msAgo: number) => new Date(now - msAgo).toISOString().slice(0, 10);
  const [d3, d2, today] = [utcDay(3 * DAY_MS), utcDay(2 * DAY_MS), utcDay(0)];
  t.same(await measure(), { days: 0, oldest: 0, final: 0, caughtUp: 0 }, 'nothing stored: nothing unreported');

  await playsWriter(pool).write([play('acme', d3, 1), play('acme', d2, 2), play('globex', d2, 3), play('acme', today, 4)]);
  const before = await measure();
  t.equal(before.days, 3, "acme's and globex's closed days; today has not closed");
  // The oldest, d3, closed at the end of d3 (UTC, no skew): 2 days ago and some.
  t.equal(before.oldest, (now - Date.parse(`${d3}T00:00:00Z`) - DAY_MS) / 1000, 'the oldest waits since the end of d3');
  // The reporter's closing rule (dayClosesAt): a day closes CLOCK_SKEW_SECONDS after its end, not before.
  const d2Ends = Date.parse(`${d2}T00:00:00Z`) + DAY_MS;
  t.equal((await measure(d2Ends + 299_000, 300)).days, 1, 'd2 is still open 299 s after its end with 300 s of skew');
  t.equal((await measure(d2Ends + 300_000, 300)).days, 3, 'and closed at 300 s (today is still open then)');

  // A version issued now for d3 is two nights late (caught up); one dated the night after its day is not.
  const version = (client: string, day: string, status: string, generatedAt = new Date()) =>
    db.query(
      `insert into report_versions (client, day, version, status, generated_at, timezone, threshold_seconds, play_count, row_count, fingerprint, path, files)
       values ($1, $2, 1, $3, $4, 'UTC', 30, 1, 1, '-', '-', '{}')`,
      [client, day, status, generatedAt],
    );
  await version('acme', d3, 'final');
  await version('globex', d2, 'provisional', new Date(`${utcDay(DAY_MS)}T02:30:00Z`)); // not final: still unreported
  const after = await measure();
  t.equal(after.days, 2, 'a final version covers its day; a provisional one does not');
  t.ok(after.oldest < before.oldest && after.oldest > DAY_MS / 1000, 'the oldest is now d2');
  t.equal(after.final, 1);
  t.equal(after.caughtUp, 1, "d3's v1 was caught up; globex d2's was issued the night after its day");
});
