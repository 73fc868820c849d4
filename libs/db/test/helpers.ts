import type { Test } from 'tap';
import { randomBytes } from 'node:crypto';
import { defaults } from '@playlog/config';
import { createDb, migrateLatest } from '../src/index.js';

/** A fresh, migrated database on the real local Postgres (libs/testing depends on this lib, so not from there). */
export async function freshDatabase(t: Test) {
  const base = process.env.DATABASE_URL ?? defaults.databaseUrl;
  const name = `playlog_db_${randomBytes(4).toString('hex')}`;
  const admin = createDb({ url: base, poolMax: 1 });
  await admin.raw(`create database ${name}`);
  const u = new URL(base);
  u.pathname = `/${name}`;
  const db = createDb({ url: u.toString(), poolMax: 2 });
  await migrateLatest(db);
  t.teardown(async () => {
    await db.destroy();
    await admin.raw(`drop database if exists ${name} with (force)`);
    await admin.destroy();
  });
  return { url: u.toString(), db };
}
