import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createPool, playsWriter, type Pool } from '@playlog/db';
import { addDays, normalizePlay, type Play, today } from '@playlog/schema';
import { databaseAs, freshDatabase, type Teardown } from '@playlog/testing';
import { issueDay } from '../src/report.js';

/**
 * daily-usage.csv from the keyed plan (usage.ts AggregatePlan: one bigint key, the file copied in the
 * table's stored order and checked by DailyOrderCheck) against an oracle: a plain GROUP BY … ORDER BY
 * of the same plays in the contract's order, formatted here. And the plays the key does not hold
 * (stored by hand: the loader refuses them), which send the run to the exact plan with the same result.
 */
const D = addDays(today('UTC'), -2);
const COUNTRIES = ['GB', 'US', 'DE', 'AU', 'ZA', 'AD', 'ZW', 'BR'];
const TRACKS = [0, 1, 255, 256, 65_535, 65_536, 16_777_216, 2_147_483_647];
const MODES = ['online', 'offline', 'online-cached'];

function plays(n: number): Play[] {
  let seed = 42;
  const pick = <T>(xs: readonly T[]): T => {
    seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648; // an LCG: its high bits pick, its low ones cycle
    return xs[Math.floor((seed / 2_147_483_648) * xs.length)]!;
  };
  return Array.from({ length: n }, (_, i) => {
    const catalogue = pick([true, false, false, false]);
    const r = normalizePlay(
      {
        logType: catalogue ? 'catalogue' : 'subscription',
        userId: `u${pick([...Array(37).keys()])}`,
        country: pick(COUNTRIES),
        trackId: pick(TRACKS),
        releaseId: pick([10, 9, 100]),
        formatId: 26,
        ...(catalogue ? { endReason: 'naturalEnd' } : { playMode: pick(MODES) }),
        dateTimePlayed: `${D}T${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00Z`,
        totalTimePlayed: pick([0, 29, 30, 31, 60]),
      },
      { client: 'acme', apiKeyName: 'k', now: Date.now(), clockSkewMs: 0 },
    );
    if (!r.ok) throw new Error(r.error.message);
    return r.play;
  });
}

/** The file as the contract orders it, from a plain GROUP BY of the stored plays. */
async function oracle(db: Pool): Promise<string> {
  const r = await db.query<Record<string, string | number>>(
    `select log_type, country, track_id, release_id, coalesce(play_mode, '') as pm, count(*)::int as streams,
            (count(*) filter (where total_time_played >= 30))::int as rb, count(distinct user_id)::int as users,
            sum(total_time_played)::int as seconds
       from plays where client = 'acme' and not synthetic
      group by log_type, country, track_id, release_id, coalesce(play_mode, '')
      order by log_type collate "C", country collate "C", track_id, release_id, coalesce(play_mode, '') collate "C"`,
  );
  const rows = r.rows.map((x) =>
    [D, 'acme', x.log_type, x.country, x.track_id, x.release_id, x.pm, x.streams, x.rb, x.users, x.seconds].join(','),
  );
  return [
    'date,client,log_type,country,track_id,release_id,play_mode,streams,royalty_bearing_streams,unique_listeners,seconds_played',
    ...rows,
    '',
  ].join('\n');
}

async function setup(t: Teardown) {
  const { url, db } = await freshDatabase(t);
  // The reporter's connections as its role; the plays written as the loader's.
  const pool = createPool(databaseAs(url, 'reporter'), 2, 'test-reporter');
  const loader = createPool(databaseAs(url, 'loader'), 1, 'test-loader');
  t.teardown(() => Promise.all([pool.end(), loader.end()]));
  const main = await pool.connect();
  const side = await pool.connect();
  for (const c of [main, side]) c.on('error', () => undefined); // the database is dropped at teardown
  t.teardown(() => {
    main.release();
    side.release();
  });
  await playsWriter(loader).write(plays(3_000));
  const dir = mkdtempSync(join(tmpdir(), 'playlog-aggregate-'));
  const issue = () => issueDay({ main, plays: [side] }, dir, { client: 'acme', day: D, timezone: 'UTC', thresholdSeconds: 30 }, 'final');
  return { db, issue };
}

t.test('the keyed plan: the oracle’s bytes, both log types, 8 countries, tracks from 0 to 2^31 - 1, NULL play modes', async (t) => {
  const s = await setup(t);
  const r = await s.issue();
  t.equal(r.exactPlan, undefined, 'the keyed plan made them');
  const file = readFileSync(join(r.path, 'daily-usage.csv'), 'utf8');
  t.equal(file, await oracle(s.db));
  t.ok(file.split('\n').length > 300, `${file.split('\n').length - 2} rows`);
});

t.test('plays the key does not hold: the exact plan, the same bytes as the oracle, and the run says why', async (t) => {
  const cases: [string, string][] = [
    ['a log type Playlog does not write', "log_type = 'trial'"],
    ['a negative track id', 'track_id = -7'],
    ['a one-letter country', "country = 'A'"],
    ['a country that is not ASCII', "country = 'ÉÉ'"],
  ];
  for (const [what, set] of cases) {
    const s = await setup(t);
    const changed = await s.db.query(`update plays set ${set} where user_id = 'u3'`);
    t.ok((changed.rowCount ?? 0) > 0, `${what}: plays changed by hand`);
    const r = await s.issue();
    t.match(r.exactPlan, /daily-usage\.csv row \d+ (has no log_type or country|is not after the row before it)/, `${what}: exact plan`);
    t.equal(readFileSync(join(r.path, 'daily-usage.csv'), 'utf8'), await oracle(s.db), `${what}: the oracle's bytes`);
  }
});
