import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import copyStreams from 'pg-copy-streams';
import type { Play } from '@playlog/schema';
import { addToBuckets, countBuckets } from './buckets.js';
import type { Pool, PoolClient } from './connection.js';
import { preparePlays, type PreparedPlays } from './prepare.js';

const UNIQUE_VIOLATION = '23505';

/** An error the server answered with (a SQLSTATE), as opposed to a lost connection or a client bug. */
function isSqlState(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57');
}

/** The plays columns in the order COPY gets them (copy-binary.ts and playCsvLine write them so). */
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
  return s.includes('"') ? `"${s.replaceAll('"', '""')}"` : `"${s}"`;
}

/**
 * One play as a CSV line for COPY: strings always quoted, NULL as an empty unquoted field. Built with
 * one template (the loader writes ~100 000 of these a second; an array and join per line cost more).
 */
export function playCsvLine(p: Play): string {
  return `${p.playId},${p.playedAt},${quote(p.client)},${quote(p.apiKeyName)},${quote(p.clientPlayId)},${p.logType},${quote(p.userId)},${p.country},${p.trackId},${p.releaseId},${p.formatId},${quote(p.playMode)},${quote(p.endReason)},${quote(p.dateTimePlayed)},${p.totalTimePlayed},${quote(p.userAgent)},${p.synthetic ? 't' : 'f'},${p.receivedAt}\n`;
}

/** After a batch met plays already stored, this many batches go straight to the staging path. */
const STAGED_AFTER_CONFLICT = 20;

/**
 * Writes plays idempotently, in one transaction per batch. Fast path: COPY straight into `plays`, which
 * succeeds whenever none of the plays is stored yet (the usual case) at the cost of a plain COPY. If
 * one is (re-delivery after a crash or rebalance, client retries, the same play on two routes), the
 * COPY fails on the primary key as a whole, and the batch is written again through the staging path:
 * COPY into a temporary table, then INSERT … ON CONFLICT DO NOTHING on the play identity. Batches
 * right after such a conflict take the staging path directly, since re-deliveries come in runs.
 * Returns how many rows were new; the rest were plays already stored.
 */
export function playsWriter(pool: Pool) {
  const knownPartitions = new Set<string>();
  let stagedLeft = 0;

  async function ensurePartitions(client: PoolClient, days: string[]): Promise<void> {
    const missing = days.filter((d) => !knownPartitions.has(d));
    if (missing.length === 0) return;
    await client.query('select ensure_play_partition(d::date) from unnest($1::text[]) as d', [missing]);
    missing.forEach((d) => knownPartitions.add(d));
  }

  /** COPY of a batch's binary body (copy-binary.ts) into `table`. */
  async function copy(client: PoolClient, table: string, body: Buffer): Promise<void> {
    const stream = client.query(copyStreams.from(`copy ${table} (${PLAY_COLUMNS.join(',')}) from stdin with (format binary)`));
    await pipeline(Readable.from([body]), stream);
  }

  async function direct(client: PoolClient, batch: PreparedPlays): Promise<boolean> {
    await client.query('begin');
    try {
      await copy(client, 'plays', batch.body);
    } catch (err) {
      await client.query('rollback');
      if ((err as { code?: string }).code === UNIQUE_VIOLATION) return false;
      throw err;
    }
    // Every play was new: the buckets count them all, in the same transaction.
    await addToBuckets(client, batch.buckets);
    await client.query('commit');
    return true;
  }

  async function staged(client: PoolClient, body: Buffer): Promise<number> {
    await client.query('begin');
    // One staging table per connection, emptied at each commit: no DDL churn per batch.
    await client.query('create temp table if not exists plays_stage (like plays including defaults) on commit delete rows');
    await copy(client, 'plays_stage', body);
    // Only the plays that were new count in the buckets.
    const res = await client.query<{ client: string; playedAt: Date; synthetic: boolean }>(
      `insert into plays select * from plays_stage on conflict do nothing returning client, played_at as "playedAt", synthetic`,
    );
    await addToBuckets(client, countBuckets(res.rows));
    await client.query('commit');
    return res.rows.length;
  }

  return {
    /** Plays, or a batch of them prepared (preparePlays) elsewhere. */
    async write(plays: readonly Play[] | PreparedPlays): Promise<{ inserted: number; duplicates: number }> {
      // Before a connection is taken: a play that cannot be written is refused (a SQLSTATE) with none held.
      const batch = 'body' in plays ? plays : preparePlays(plays);
      if (batch.count === 0) return { inserted: 0, duplicates: 0 };
      const client = await pool.connect();
      let broken: Error | undefined;
      // A checked-out client that loses its connection emits 'error'; unhandled, that would crash the
      // process. The failing query rejects as well, which is where it is dealt with.
      const onError = (err: Error) => (broken = err);
      client.on('error', onError);
      try {
        await ensurePartitions(client, batch.days);
        let inserted: number;
        if (stagedLeft === 0 && (await direct(client, batch))) {
          inserted = batch.count;
        } else {
          stagedLeft = stagedLeft > 0 ? stagedLeft - 1 : STAGED_AFTER_CONFLICT;
          inserted = await staged(client, batch.body);
        }
        return { inserted, duplicates: batch.count - inserted };
      } catch (err) {
        // Refused data leaves a healthy connection once rolled back; anything else is discarded.
        const rolledBack = await client.query('rollback').then(
          () => true,
          () => false,
        );
        if (!rolledBack || !isSqlState(err)) broken = err as Error;
        throw err;
      } finally {
        client.off('error', onError);
        // A connection that failed mid-transaction is discarded, not returned to the pool.
        client.release(broken);
      }
    },
  };
}

export type PlaysWriter = ReturnType<typeof playsWriter>;
