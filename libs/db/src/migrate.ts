import type { Knex } from 'knex';
import * as m001 from './migrations/001-initial.js';
import * as m002 from './migrations/002-daily-usage-lean.js';
import * as m003 from './migrations/003-gate-marks.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Migrations are imported, not read from a directory, so the built app needs no file layout. */
const migrations: Record<string, Migration> = {
  '001-initial': m001,
  '002-daily-usage-lean': m002,
  '003-gate-marks': m003,
};

const source: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

const config: Knex.MigratorConfig = { migrationSource: source, tableName: 'playlog_migrations' };

/** Brings the schema up to date; returns the names applied by this call (none when already current). */
export async function migrateLatest(db: Knex): Promise<string[]> {
  const [, applied] = (await db.migrate.latest(config)) as [number, string[]];
  return applied;
}

export async function migrateRollbackAll(db: Knex): Promise<void> {
  await db.migrate.rollback(config, true);
}
