import knexFactory, { type Knex } from 'knex';
import { pgTypes } from './connection.js';
import * as m001 from './migrations/001-initial.js';
import * as m002 from './migrations/002-daily-usage-lean.js';
import * as m003 from './migrations/003-gate-marks.js';
import * as m004 from './migrations/004-play-buckets.js';
import * as m005 from './migrations/005-daily-usage-by-version.js';
import * as m006 from './migrations/006-report-segments.js';
import * as m007 from './migrations/007-roles.js';
import * as m008 from './migrations/008-key-feed.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
}

/** Migrations are imported, not read from a directory, so the built app needs no file layout. */
const migrations: Record<string, Migration> = {
  '001-initial': m001,
  '002-daily-usage-lean': m002,
  '003-gate-marks': m003,
  '004-play-buckets': m004,
  '005-daily-usage-by-version': m005,
  '006-report-segments': m006,
  '007-roles': m007,
  '008-key-feed': m008,
};

const source: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations).sort(),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};

const config: Knex.MigratorConfig = { migrationSource: source, tableName: 'playlog_migrations' };

/**
 * The migrations' own connection: knex, whose migrator and schema builder the migrations are written
 * for (everything else in Playlog queries through a pg pool), reading types as the pools do.
 */
function migrator(url: string): Knex {
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: url,
      application_name: 'playlog-migrate',
      connectionTimeoutMillis: 5_000,
      // knex declares the format as a string; pg takes 'text' or 'binary'.
      types: { getTypeParser: (oid: number, format?: string) => pgTypes.getTypeParser(oid, format === 'binary' ? 'binary' : 'text') },
    },
    pool: { min: 0, max: 1 },
    acquireConnectionTimeout: 10_000,
  });
}

/**
 * Brings the schema at `url` up to date, or up to and including the migration `until` (tests of a
 * migration over data written by the schema before it); returns the names applied by this call.
 */
export async function migrateLatest(url: string, until?: string): Promise<string[]> {
  const db = migrator(url);
  try {
    if (until === undefined) {
      const [, applied] = (await db.migrate.latest(config)) as [number, string[]];
      return applied;
    }
    if (!migrations[until]) throw new Error(`no migration ${until}`);
    const applied: string[] = [];
    for (;;) {
      const [, names] = (await db.migrate.up(config)) as [number, string[]];
      applied.push(...names);
      if (names.length === 0 || names.includes(until)) return applied;
    }
  } finally {
    await db.destroy();
  }
}
