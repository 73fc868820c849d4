import pg from 'pg';

/**
 * Playlog's one way to Postgres: a pg pool. Every query in the apps and tools goes through a pool made
 * here (knex is used only inside this library, to run the migrations).
 *
 * How its connections read two Postgres types, set on each connection (never on pg's global parsers,
 * which importing this library must not change for other code in the process): int8 (bigint: counts)
 * as a JS number, since our counts fit in one; `date` as its 'YYYY-MM-DD' text, since a report day is a
 * calendar date, not an instant.
 */
export const pgTypes = new pg.TypeOverrides();
pgTypes.setTypeParser(pg.types.builtins.INT8, (v: string) => Number(v));
pgTypes.setTypeParser(pg.types.builtins.DATE, (v: string) => v);

/** A pool of connections to one database. */
export type Pool = pg.Pool;
/** One connection taken from a pool (release it). */
export type PoolClient = pg.PoolClient;
/** A connection: one taken from a pool, or a client of its own. */
export type Session = pg.ClientBase;
/** Anything that runs a query: a pool, or a connection taken from one. */
export type Queryable = Pick<pg.Pool, 'query'>;

export interface PoolOptions {
  /** Longest a statement may run (0: no limit); default 120 s, what a batch write may take. */
  statementTimeoutMs?: number;
  /** A session idle inside a transaction this long is ended by the server (0: never, the default). */
  idleInTransactionMs?: number;
}

/** SQL text for a value or a name, for statements that cannot take parameters (COPY, SET). */
export const { escapeLiteral, escapeIdentifier } = pg;

/**
 * A pool whose idle connections may fail without harm (Postgres restarted, the connection killed): pg
 * drops such a connection from the pool and emits 'error', which would crash the process if nothing
 * listened; the next query takes a new connection and reports its own errors. An app that wants the
 * idle failures in its log adds its own listener (the loader does).
 */
export function createPool(url: string, max: number, applicationName: string, opts: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max,
    application_name: applicationName,
    connectionTimeoutMillis: 5_000,
    statement_timeout: opts.statementTimeoutMs ?? 120_000,
    idle_in_transaction_session_timeout: opts.idleInTransactionMs ?? 0,
    types: pgTypes,
  });
  pool.on('error', () => undefined);
  return pool;
}
