import type { Queryable } from './connection.js';

/**
 * The plays table has one partition per UTC day (`plays_pYYYYMMDD`). The loader creates the day's
 * partition on demand before writing, creates the next days' ahead of time, and drops partitions older
 * than the retention, which is what keeps the table's size bounded.
 */

const NAME = /^plays_p(\d{4})(\d{2})(\d{2})$/;

function addDays(day: string, n: number): string {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Creates the partitions for `fromDay` … `fromDay + days - 1` (UTC) if missing. */
export async function ensurePartitions(db: Queryable, fromDay: string, days: number): Promise<void> {
  const list = Array.from({ length: days }, (_, i) => addDays(fromDay, i));
  await db.query('select ensure_play_partition(d::date) from unnest($1::text[]) as d', [list]);
}

/** The days that have a partition, oldest first. */
export async function partitionDaysPresent(db: Queryable): Promise<string[]> {
  const r = await db.query<{ name: string }>(
    `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid
      join pg_class p on p.oid = i.inhparent where p.relname = 'plays'`,
  );
  return r.rows
    .map((x) => NAME.exec(x.name))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]}-${m[2]}-${m[3]}`)
    .sort();
}

/**
 * Drops every daily partition strictly before `cutoffDay`; returns the days dropped. Through the schema
 * owner's function (migration 007): the loader's role cannot drop a table, and the function refuses a
 * cutoff inside the last 62 days.
 */
export async function dropPartitionsBefore(db: Queryable, cutoffDay: string): Promise<string[]> {
  const r = await db.query<{ day: string }>('select d::text as day from drop_play_partitions_before($1::date) as d', [cutoffDay]);
  return r.rows.map((x) => x.day).sort();
}
