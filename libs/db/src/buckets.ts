import type { Queryable } from './connection.js';

/**
 * Per client and 15-minute bucket of `played_at` (UTC-aligned), the reportable plays stored and when
 * the last was loaded (migration 004). The loader adds to it in the transaction that stores the plays.
 */
const BUCKET_MS = 15 * 60_000;

const QUARTERS = ['00', '15', '30', '45'];
const CANONICAL = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-5][0-9]:[0-9]{2}(?:[.][0-9]+)?Z$/;

/** The bucket of an instant given as ISO 8601 UTC (a play's playedAt), as ISO 8601. */
export function bucketOf(playedAt: string | Date): string {
  if (typeof playedAt === 'string' && CANONICAL.test(playedAt)) {
    // `YYYY-MM-DDThh:mm…Z`, as plays carry it: the bucket is the hour and the quarter its minute falls in,
    // which is cheaper to cut from the text than to compute through a Date (the loader does it per play).
    const minute = Number(playedAt.slice(14, 16));
    return `${playedAt.slice(0, 14)}${QUARTERS[Math.floor(minute / 15)]}:00.000Z`;
  }
  const ms = typeof playedAt === 'string' ? Date.parse(playedAt.slice(0, 19) + 'Z') : playedAt.getTime();
  return new Date(Math.floor(ms / BUCKET_MS) * BUCKET_MS).toISOString();
}

/** Counts by client and bucket, left out: synthetic plays. */
export function countBuckets(rows: Iterable<{ client: string; playedAt: string | Date; synthetic: boolean }>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of rows) {
    if (r.synthetic) continue;
    const k = `${r.client}\u0000${bucketOf(r.playedAt)}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/**
 * Adds the counts to play_buckets, in key order (two batches adding to the same buckets lock them in
 * the same order, so they cannot deadlock). `now()` is the transaction's start, as the plays' loaded_at.
 */
export async function addToBuckets(client: Queryable, counts: Map<string, number>): Promise<void> {
  if (counts.size === 0) return;
  const keys = [...counts.keys()].sort();
  const clients: string[] = [];
  const buckets: string[] = [];
  for (const k of keys) {
    const [c, b] = k.split('\u0000') as [string, string];
    clients.push(c);
    buckets.push(b);
  }
  await client.query(
    `insert into play_buckets (client, bucket, plays, last_loaded_at)
     select c, b, n, now() from unnest($1::text[], $2::timestamptz[], $3::bigint[]) with ordinality as u(c, b, n, i) order by i
     on conflict (client, bucket) do update
       set plays = play_buckets.plays + excluded.plays, last_loaded_at = greatest(play_buckets.last_loaded_at, excluded.last_loaded_at)`,
    [clients, buckets, keys.map((k) => counts.get(k)!)],
  );
}
