/**
 * A batch of plays rendered for the writer, with no connection to anything: the part of libs/db that the
 * loader's decode worker runs (it imports '@playlog/db/prepare', so the worker loads neither knex nor pg).
 */
import type { Play } from '@playlog/schema';
import { playsCopyBinary, type BucketTally } from './copy-binary.js';

/** The UTC days (YYYY-MM-DD) whose partitions a batch of plays needs. */
export function partitionDays(plays: readonly Play[]): string[] {
  return [...new Set(plays.map((p) => p.playedAt.slice(0, 10)))].sort();
}

/**
 * A batch of plays made ready for the writer: the binary COPY body and what the write needs besides, so
 * the CPU work can happen away from the thread that talks to Postgres (the loader's decode worker).
 */
export interface PreparedPlays {
  /** The plays as the body of a binary COPY (copy-binary.ts). */
  body: Buffer;
  count: number;
  /** Reportable plays per client and 15-minute bucket (buckets.ts): what play_buckets gains if all are new. */
  buckets: Map<string, number>;
  /** The UTC days whose partitions the plays need. */
  days: string[];
}

/** Throws (with a SQLSTATE) if a play has no binary form: see copy-binary.ts. */
export function preparePlays(plays: readonly Play[]): PreparedPlays {
  const tally: BucketTally = new Map();
  const body = playsCopyBinary(plays, tally);
  // countBuckets' keys, from the tally the body's pass made (no second parse of each playedAt).
  const buckets = new Map<string, number>();
  for (const [client, perBucket] of tally) {
    for (const [ms, n] of perBucket) buckets.set(`${client}\u0000${new Date(ms).toISOString()}`, n);
  }
  return { body, count: plays.length, buckets, days: partitionDays(plays) };
}
