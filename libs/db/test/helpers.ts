import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { databaseUrlAs, defaults, type Principal } from '@playlog/config';
import { normalizePlay, type Play } from '@playlog/schema';
import { createPool, migrateLatest } from '../src/index.js';

/** `url` (without a user) as `principal` connects with it (libs/config credentials.ts). */
export function databaseAs(url: string, principal: Principal = 'admin'): string {
  return databaseUrlAs(principal, url);
}

/**
 * A fresh database on the real local Postgres, owned by playlog_migrate and migrated as it (libs/testing
 * depends on this lib, so not from there). `url` names no user; `db` is the admin's pool.
 */
export async function freshDatabase(t: Test) {
  const base = process.env.DATABASE_URL ?? defaults.databaseUrl;
  const name = `playlog_db_${randomBytes(4).toString('hex')}`;
  const admin = createPool(databaseAs(base), 1, 'test-admin');
  await admin.query(`create database ${name} owner playlog_migrate`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  await migrateLatest(databaseAs(u.toString(), 'migrate'));
  const db = createPool(databaseAs(u.toString()), 2, 'test');
  t.teardown(async () => {
    await db.end();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  });
  return { url: u.toString(), db };
}

/** One clock for the whole test file: the same `from` gives the same plays, ids included. */
const now = Date.now();

/** `n` valid plays of client `c`, a minute before `now`, users and tracks numbered from `from`. */
export function testPlays(from: number, n: number): Play[] {
  return Array.from({ length: n }, (_, i) => {
    const r = normalizePlay(
      {
        logType: 'subscription',
        userId: `u${from + i}`,
        country: 'GB',
        trackId: from + i,
        releaseId: 1,
        formatId: 1,
        playMode: 'online',
        dateTimePlayed: new Date(now - 60_000).toISOString(),
        totalTimePlayed: 30,
      },
      { client: 'c', apiKeyName: 'k', now, clockSkewMs: 0 },
    );
    if (!r.ok) throw new Error(r.error.message);
    return r.play;
  });
}
