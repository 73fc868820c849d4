import t from 'tap';
import { normalizePlay, type Play } from '@playlog/schema';
import { bucketOf } from '../src/buckets.js';
import { createPool, playsWriter } from '../src/index.js';
import { databaseAs, freshDatabase } from './helpers.js';

const now = Date.now();

/** Play `i` of client `c`, `minutesAgo` before now (spread over many 15-minute buckets). */
function play(c: string, i: number, minutesAgo: number, synthetic = false): Play {
  const r = normalizePlay(
    {
      logType: 'subscription',
      userId: `u${i}`,
      country: 'GB',
      trackId: i,
      releaseId: 1,
      formatId: 1,
      playMode: 'online',
      dateTimePlayed: new Date(now - minutesAgo * 60_000 - (i % 1000)).toISOString(),
      totalTimePlayed: 30,
    },
    { client: c, apiKeyName: 'k', now, clockSkewMs: 0 },
  );
  if (!r.ok) throw new Error(r.error.message);
  return { ...r.play, synthetic };
}

t.test('bucketOf: the 15-minute bucket (UTC) of an instant, from its ISO string or a Date', async (t) => {
  t.equal(bucketOf('2026-11-25T10:14:59.9999999Z'), '2026-11-25T10:00:00.000Z');
  t.equal(bucketOf('2026-11-25T10:15:00.000000Z'), '2026-11-25T10:15:00.000Z');
  t.equal(bucketOf(new Date('2026-11-25T23:59:59.999Z')), '2026-11-25T23:45:00.000Z');
});

t.test('play_buckets counts exactly the stored reportable plays, on both write paths; refresh_play_buckets agrees', async (t) => {
  const { url, db } = await freshDatabase(t);
  const pool = createPool(databaseAs(url, 'loader'), 1, 'test-buckets');
  t.teardown(() => pool.end());
  const writer = playsWriter(pool);
  const truth = async () =>
    (
      await db.query<{ client: string; bucket: string; plays: string; last: string }>(
        `select client, date_bin('15 minutes', played_at, timestamptz '1970-01-01 00:00:00+00')::text as bucket, count(*)::text as plays,
                max(loaded_at)::text as last
           from plays where not synthetic group by 1, 2 order by 1, 2`,
      )
    ).rows;
  const buckets = async () =>
    (
      await db.query<{ client: string; bucket: string; plays: string; last: string }>(
        `select client, bucket::text, plays::text, last_loaded_at::text as last from play_buckets order by 1, 2`,
      )
    ).rows;

  const first = Array.from({ length: 300 }, (_, i) => play(i % 3 === 0 ? 'b' : 'a', i, i * 7));
  first.push(play('a', 9_001, 30, true), play('a', 9_002, 600, true)); // synthetic: never counted
  t.same(await writer.write(first), { inserted: 302, duplicates: 0 }, 'direct COPY path');
  t.same(await buckets(), await truth(), 'buckets = the plays, grouped');

  // Half stored already: the staging path counts only the new half.
  const second = [...first.slice(0, 150), ...Array.from({ length: 150 }, (_, i) => play('a', 1_000 + i, i * 11))];
  t.same(await writer.write(second), { inserted: 150, duplicates: 150 }, 'staging path');
  const after = await buckets();
  t.same(after, await truth(), 'still equal after duplicates');
  t.equal(
    after.reduce((n, r) => n + Number(r.plays), 0),
    450,
    '450 reportable plays in the buckets',
  );

  // Rebuilt from the plays (an operator's repair), the buckets are the same.
  await db.query('delete from play_buckets');
  const days = (
    await db.query<{ lo: string; hi: string }>(
      `select (min(played_at) at time zone 'UTC')::date::text as lo, (max(played_at) at time zone 'UTC')::date::text as hi from plays`,
    )
  ).rows[0]!;
  const total = (await db.query<{ n: string }>('select refresh_play_buckets($1, $2) as n', [days.lo, days.hi])).rows[0]!.n;
  t.equal(Number(total), 450, 'refresh_play_buckets returns the plays it counted');
  t.same(await buckets(), after, 'the same buckets');
});
