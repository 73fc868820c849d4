import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { Play } from '@playlog/schema';

/** The plays columns in the order playCsvLine writes them (COPY's column list). */
export const PLAY_COLUMNS = [
  'play_id',
  'played_at',
  'client',
  'api_key_name',
  'client_play_id',
  'log_type',
  'user_id',
  'country',
  'track_id',
  'release_id',
  'format_id',
  'play_mode',
  'end_reason',
  'date_time_played',
  'total_time_played',
  'user_agent',
  'synthetic',
  'received_at',
] as const;

function quote(s: string | null): string {
  if (s === null) return '';
  return `"${s.replaceAll('"', '""')}"`;
}

/** One play as a CSV line for COPY: strings always quoted, NULL as an empty unquoted field. */
export function playCsvLine(p: Play): string {
  return (
    [
      p.playId,
      p.playedAt,
      quote(p.client),
      quote(p.apiKeyName),
      quote(p.clientPlayId),
      p.logType,
      quote(p.userId),
      p.country,
      p.trackId,
      p.releaseId,
      p.formatId,
      quote(p.playMode),
      quote(p.endReason),
      quote(p.dateTimePlayed),
      p.totalTimePlayed,
      quote(p.userAgent),
      p.synthetic ? 't' : 'f',
      p.receivedAt,
    ].join(',') + '\n'
  );
}

/** The UTC days (YYYY-MM-DD) whose partitions a batch of plays needs. */
export function partitionDays(plays: Play[]): string[] {
  return [...new Set(plays.map((p) => p.playedAt.slice(0, 10)))].sort();
}

export function createPool(url: string, max: number, applicationName: string): pg.Pool {
  return new pg.Pool({
    connectionString: url,
    max,
    application_name: applicationName,
    connectionTimeoutMillis: 5_000,
    statement_timeout: 120_000,
  });
}

/**
 * Writes plays idempotently: COPY into a temporary staging table, then one INSERT … ON CONFLICT DO
 * NOTHING on the play identity, all in one transaction. Returns how many rows were new; the rest were
 * plays already stored (re-delivery, client retries, the same play on two routes).
 */
export function playsWriter(pool: pg.Pool) {
  const knownPartitions = new Set<string>();

  async function ensurePartitions(client: pg.PoolClient, days: string[]): Promise<void> {
    const missing = days.filter((d) => !knownPartitions.has(d));
    if (missing.length === 0) return;
    await client.query('select ensure_play_partition(d::date) from unnest($1::text[]) as d', [missing]);
    missing.forEach((d) => knownPartitions.add(d));
  }

  return {
    async write(plays: Play[]): Promise<{ inserted: number; duplicates: number }> {
      if (plays.length === 0) return { inserted: 0, duplicates: 0 };
      const client = await pool.connect();
      let broken: Error | undefined;
      // A checked-out client that loses its connection emits 'error'; unhandled, that would crash the
      // process. The failing query rejects as well, which is where it is dealt with.
      const onError = (err: Error) => (broken = err);
      client.on('error', onError);
      try {
        await ensurePartitions(client, partitionDays(plays));
        await client.query('begin');
        // One staging table per connection, emptied at each commit: no DDL churn per batch.
        await client.query('create temp table if not exists plays_stage (like plays including defaults) on commit delete rows');
        const copy = client.query(copyStreams.from(`copy plays_stage (${PLAY_COLUMNS.join(',')}) from stdin with (format csv)`));
        await pipeline(Readable.from(batchLines(plays)), copy);
        const res = await client.query(`insert into plays select * from plays_stage on conflict do nothing`);
        await client.query('commit');
        const inserted = res.rowCount ?? 0;
        return { inserted, duplicates: plays.length - inserted };
      } catch (err) {
        broken = err as Error;
        await client.query('rollback').catch(() => undefined);
        throw err;
      } finally {
        client.off('error', onError);
        // A connection that failed mid-transaction is discarded, not returned to the pool.
        client.release(broken);
      }
    },
  };
}

function* batchLines(plays: Play[]): Generator<string> {
  const CHUNK = 500;
  for (let i = 0; i < plays.length; i += CHUNK) {
    let s = '';
    for (let j = i; j < Math.min(i + CHUNK, plays.length); j++) s += playCsvLine(plays[j]!);
    yield s;
  }
}

export type PlaysWriter = ReturnType<typeof playsWriter>;
