import knexFactory, { type Knex } from 'knex';
import pg from 'pg';

/**
 * How Playlog's connections read two Postgres types, set on each connection (never on pg's global
 * parsers, which importing this library must not change for other code in the process):
 * int8 (bigint: counts) as a JS number, since our counts fit in one; `date` as its 'YYYY-MM-DD' text,
 * since a report day is a calendar date, not an instant.
 */
export const pgTypes = new pg.TypeOverrides();
pgTypes.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));
pgTypes.setTypeParser(pg.types.builtins.DATE, (v: string) => v);

export interface DbOptions {
  url: string;
  poolMax?: number;
  /** Statement timeout in ms, so a stuck query cannot hold a connection forever. */
  statementTimeoutMs?: number;
  applicationName?: string;
  /** How long a query may wait for a pool connection (and so how fast an outage surfaces). */
  acquireTimeoutMs?: number;
  /** Where knex's own warnings go (e.g. the app's pino logger); by default knex prints them to the console. */
  logger?: DbLogger;
}

/** The part of a pino logger that knex's messages are sent to. */
export interface DbLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** knex's log hooks, as structured records: one line each, not multi-line console text. */
function knexLog(logger: DbLogger): Knex.Config['log'] {
  return {
    warn: (message: unknown) => logger.warn({ knex: String(message) }, 'knex warning'),
    error: (message: unknown) => logger.error({ knex: String(message) }, 'knex error'),
    deprecate: (method: unknown, alternative: unknown) => logger.warn({ method, alternative }, 'knex deprecation'),
    debug: () => undefined,
  };
}

export function createDb(opts: DbOptions): Knex {
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: opts.url,
      application_name: opts.applicationName ?? 'playlog',
      statement_timeout: opts.statementTimeoutMs ?? 60_000,
      connectionTimeoutMillis: Math.min(5_000, opts.acquireTimeoutMs ?? 5_000),
      // knex declares the format as a string; pg takes 'text' or 'binary'.
      types: { getTypeParser: (oid: number, format?: string) => pgTypes.getTypeParser(oid, format === 'binary' ? 'binary' : 'text') },
    },
    pool: { min: 0, max: opts.poolMax ?? 5 },
    acquireConnectionTimeout: opts.acquireTimeoutMs ?? 10_000,
    ...(opts.logger ? { log: knexLog(opts.logger) } : {}),
  });
}

export type { Knex };
