import { randomBytes } from 'node:crypto';
import type { Test } from 'tap';
import t from 'tap';
import { defaults } from '@playlog/config';
import { createPool, dailyUsageLeaf, migrateLatest } from '../src/index.js';
import { databaseAs } from './helpers.js';

/** A database migrated up to `until` only. */
async function databaseAt(t: Test, until: string) {
  const base = process.env.DATABASE_URL ?? defaults.databaseUrl;
  const name = `playlog_mig_${randomBytes(4).toString('hex')}`;
  const admin = createPool(databaseAs(base), 1, 'test-admin');
  await admin.query(`create database ${name} owner playlog_migrate`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  const db = createPool(databaseAs(u.toString()), 2, 'test');
  t.teardown(async () => {
    await db.end();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  t.same((await migrateLatest(databaseAs(u.toString(), 'migrate'), until)).at(-1), until);
  return { db, url: u.toString() };
}

t.test('005: the aggregates already stored move into one table per version, and read back the same', async (t) => {
  const { db, url } = await databaseAt(t, '004-play-buckets');
  const versions = [
    ['acme', '2026-10-31', 1],
    ['acme', '2026-10-31', 2],
    ['acme', '2026-11-01', 1],
    ['globex.radio', '2026-11-01', 1],
  ] as const;
  for (const [client, day, version] of versions) {
    await db.query(
      `insert into report_versions (client, day, version, status, timezone, threshold_seconds, play_count, row_count, fingerprint, path, files)
       values ($1, $2, $3, 'final', 'UTC', 30, 2, 2, '-', '-', '{}')`,
      [client, day, version],
    );
    for (const [track, mode] of [
      [1, ''],
      [2, 'online'],
    ] as const)
      await db.query(
        `insert into daily_usage (client, day, version, log_type, country, track_id, release_id, play_mode, streams,
                                  royalty_bearing_streams, unique_listeners, seconds_played)
         values ($1, $2, $3, 'subscription', 'GB', $4, 9, $5, $6, $7, 1, 100)`,
        [client, day, version, track, mode, version * 10 + track, track],
      );
  }
  const read = async () =>
    (
      await db.query(
        'select client, day::text as day, version, track_id, play_mode, streams from daily_usage order by client, day, version, track_id',
      )
    ).rows;
  const before = await read();
  t.equal(before.length, 8);

  t.same(await migrateLatest(databaseAs(url, 'migrate'), '005-daily-usage-by-version'), ['005-daily-usage-by-version']);
  t.same(await read(), before, 'the same rows through daily_usage');
  const leaves = await db.query<{ name: string; level: number }>(
    `select relid::text as name, level from pg_partition_tree('daily_usage') where isleaf order by 1`,
  );
  t.same(leaves.rows.map((r) => r.name).sort(), versions.map(([c, d, v]) => dailyUsageLeaf(c, d, v)).sort(), 'one table per version');
  t.ok(
    leaves.rows.every((r) => r.level === 2),
    'each under its month',
  );
  const one = await db.query(
    `explain (format json) select * from daily_usage where client = 'acme' and day = '2026-10-31' and version = 2`,
  );
  t.match(JSON.stringify(one.rows), dailyUsageLeaf('acme', '2026-10-31', 2), 'a version is read from its own table');
  t.notMatch(JSON.stringify(one.rows), dailyUsageLeaf('acme', '2026-10-31', 1), 'and no other');
});
