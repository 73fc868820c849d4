import { commandLine, databaseUrlAs, defaults, env, loadConfig, ConfigError } from '@playlog/config';
import { migrateLatest } from './migrate.js';

const USAGE = `usage: npm run migrate [-- --help]
  Brings the database schema at DATABASE_URL up to date; running it again changes nothing.`;

/** `npm run migrate`: brings the database schema up to date (idempotent). */
async function main(): Promise<void> {
  commandLine('migrate', USAGE, process.argv.slice(2), {});
  const cfg = loadConfig({ databaseUrl: env.postgresUrl('DATABASE_URL', defaults.databaseUrl) });
  // As playlog_migrate, the schema's owner (or the user DATABASE_URL names).
  const applied = await migrateLatest(databaseUrlAs('migrate', cfg.databaseUrl));
  console.log(applied.length ? `migrate: applied ${applied.join(', ')}` : 'migrate: schema is up to date');
}

main().catch((err: unknown) => {
  console.error(err instanceof ConfigError ? err.message : `migrate: ${(err as Error).message}`);
  process.exit(1);
});
