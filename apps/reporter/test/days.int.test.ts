import t from 'tap';
import { createPool } from '@playlog/db';
import { databaseAs, stack } from '@playlog/testing';
import { addDays, reportableDay, startOfDay } from '@playlog/schema';

/**
 * The reporter decides in JavaScript when a day has closed, and Postgres decides which plays a day
 * holds (`D::timestamp at time zone Z`): both must put midnight at the same instant, DST gaps and
 * repeated hours included. Checked against the real server for zones with odd rules, 2010-2026.
 */
t.test('startOfDay agrees with Postgres for every day of 17 years in zones with odd rules', async (t) => {
  const pool = createPool(databaseAs(stack.databaseUrl, 'reporter'), 1, 'test-days');
  t.teardown(() => pool.end());
  const zones = [
    'UTC',
    'America/New_York',
    'America/Santiago',
    'Europe/London',
    'Asia/Kolkata',
    'Pacific/Kiritimati',
    'America/Havana',
    'Pacific/Apia',
    'Australia/Lord_Howe',
    'America/Asuncion',
    'Asia/Gaza',
  ];
  let checked = 0;
  const wrong: string[] = [];
  for (const tz of zones) {
    const r = await pool.query<{ day: string; ms: string }>(
      `select d::date::text as day, (extract(epoch from (d::date::timestamp at time zone $1)) * 1000)::bigint::text as ms
         from generate_series('2010-01-01'::date, '2026-12-31'::date, interval '1 day') d`,
      [tz],
    );
    for (const row of r.rows) {
      checked++;
      if (startOfDay(row.day, tz) !== Number(row.ms)) wrong.push(`${tz} ${row.day}`);
    }
  }
  t.ok(checked > 60_000, `${checked} zone-days compared`);
  t.same(wrong.slice(0, 10), [], 'no day starts at another instant than Postgres says');
});

t.test('a day is reportable once closed (plus the skew), and while inside the window', async (t) => {
  const now = Date.parse('2026-11-26T00:04:00Z');
  t.match(reportableDay('2026-11-25', 'UTC', 300, 61, now), {
    ok: false,
    why: /has not closed yet.*2026-11-26T00:05:00.000Z.*CLOCK_SKEW_SECONDS=300/,
  });
  t.same(reportableDay('2026-11-25', 'UTC', 300, 61, now + 60_000), { ok: true }, 'closed at 00:05');
  t.match(reportableDay('2026-11-26', 'UTC', 300, 61, now), { ok: false, why: /not closed/ }, 'today');
  t.match(reportableDay('2026-11-27', 'UTC', 300, 61, now), { ok: false, why: /in the future/ });
  t.match(reportableDay('2026-11-25', 'America/New_York', 0, 61, now), { ok: false, why: /not closed/ }, 'still the 25th in New York');
  t.match(
    reportableDay('2026-09-25', 'UTC', 0, 61, now),
    { ok: false, why: /outside the 61-day window/ },
    'every play 61 days old or more',
  );
  t.same(reportableDay('2026-09-26', 'UTC', 0, 61, now), { ok: true }, 'its last plays are not yet 61 days old');
  t.equal(addDays('2026-12-31', 1), '2027-01-01');
});
