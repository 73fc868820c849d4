import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { Pool, Session } from '@playlog/db';
import { segmentFolder } from './folders.js';
import { renderPerPlay } from './per-play.js';
import type { DayScope, Range } from './usage.js';
import { addDays, startOfDay, today } from '@playlog/schema';

/**
 * client-usage.csv is written as its header, then the day's hours one after the other: the rows are
 * sorted by the instant played first, so the hours' rows, each sorted, are the day's rows sorted.
 *
 * An hour can be rendered ahead of the report, once it has closed (`reporter segments`, hourly): a
 * segment file, recorded in report_segments with the fingerprint of the hour's plays (their count and
 * latest load time, from play_buckets) and the settings its bytes depend on. The report then copies a
 * segment whose fingerprint is still the hour's, in its own snapshot, and renders the other hours
 * itself (late plays, an hour no segment run saw). Both ways give the same bytes, so a report is the
 * same file whether its hours were prepared or not, and a restored folder comes out as issued.
 *
 * With gzip, each part (the header, every hour) is its own gzip member: the concatenation is a valid
 * gzip file (RFC 1952) that inflates to the plain file, and the same parts give the same bytes.
 */
export type Compress = 'none' | 'gzip';

/**
 * gzip level 1: a 10M-play day's 2 GiB client-usage.csv shrinks about 5× at a fraction of the default
 * level's CPU (bench/reporter). Fixed: a restored folder must come out byte for byte as issued.
 */
const GZIP_LEVEL = 1;

export function clientUsageFile(compress: Compress): string {
  return compress === 'gzip' ? 'client-usage.csv.gz' : 'client-usage.csv';
}

/** The day's hours in its zone, as instants: 24, or 23 or 25 on the days clocks change. */
export function hoursOf(day: string, timezone: string): Range[] {
  const start = startOfDay(day, timezone);
  const end = startOfDay(addDays(day, 1), timezone);
  const hours: Range[] = [];
  for (let t = start; t < end; t += 3_600_000) hours.push({ from: new Date(t), to: new Date(Math.min(t + 3_600_000, end)) });
  return hours;
}

/** What a segment's bytes depend on besides its plays. */
export function formOf(s: DayScope, compress: Compress): string {
  return `${s.timezone}|${s.thresholdSeconds}|${compress}`;
}

/** Per hour, the count and latest load time of its reportable plays (play_buckets: 4 rows an hour). */
export async function hourFingerprints(db: Session, client: string, hours: Range[]): Promise<{ fingerprint: string; plays: number }[]> {
  const r = await db.query<{ plays: string; last: string | null }>(
    `select coalesce(sum(b.plays), 0)::bigint as plays, max(b.last_loaded_at)::text as last
       from unnest($2::timestamptz[], $3::timestamptz[]) with ordinality as h(f, t, i)
       left join play_buckets b on b.client = $1 and b.bucket >= h.f and b.bucket < h.t
      group by h.i order by h.i`,
    [client, hours.map((h) => h.from), hours.map((h) => h.to)],
  );
  return r.rows.map((x) => ({ fingerprint: `${x.plays}|${x.last ?? '-'}`, plays: Number(x.plays) }));
}

export interface SegmentRow {
  slice: number;
  form: string;
  fingerprint: string;
  bytes: string;
  path: string;
}

/**
 * The hours' rows in one process, in index order, for the rest of the transaction. Left to itself,
 * Postgres plans an hour of a big day as a scan of the whole day's partition and a sort: 24 scans of
 * the day. At 10M plays it chose a parallel scan (bench/reporter: 37 s against 17 s for the day at
 * once); at 50M, a serial one of the 14 GB partition per hour (272 s for the file, against about 1 s
 * an hour through the (client, played_at) index and an incremental sort on the ties). An hour is
 * always a narrow range of that index, so the index is the plan: no parallel workers (in a report the
 * aggregate has them meanwhile), no sequential or bitmap scan, and no JIT (it compiled every hour's
 * query again).
 */
export async function onePlan(db: Session): Promise<void> {
  await db.query(
    'set local max_parallel_workers_per_gather = 0; set local enable_seqscan = off; set local enable_bitmapscan = off; set local jit = off',
  );
}

/** Undoes onePlan for the rest of the transaction (a restore's may go on to compute a version's aggregates). */
export async function usualPlan(db: Session): Promise<void> {
  await db.query(
    'set local max_parallel_workers_per_gather to default; set local enable_seqscan to default; set local enable_bitmapscan to default; set local jit to default',
  );
}

/**
 * Writes bytes to `out` with backpressure, hashing and counting them; fails as soon as `out` does (a
 * full disk), instead of waiting for a drain that will not come.
 */
export function sinkInto(out: Writable, hash: ReturnType<typeof createHash> | undefined, counter: { bytes: number }) {
  const failed = new Promise<never>((_, reject) => out.once('error', reject));
  failed.catch(() => undefined);
  return async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      hash?.update(chunk);
      counter.bytes += chunk.length;
      if (!out.write(chunk)) await Promise.race([new Promise<void>((resolve) => out.once('drain', resolve)), failed]);
    }
  };
}

/** Ends `out` after a failure, and waits until its file is closed (nothing is written into the folder after). */
export async function abandon(out: Writable): Promise<void> {
  out.destroy();
  await finished(out).catch(() => undefined);
}

/** One part of the file: as is, or as one gzip member. */
export async function writePart(
  source: Readable,
  compress: Compress,
  sink: (source: AsyncIterable<Buffer>) => Promise<void>,
): Promise<void> {
  if (compress === 'gzip') await pipeline(source, createGzip({ level: GZIP_LEVEL }), sink);
  else await pipeline(source, sink);
}

export interface SegmentSettings {
  reportDir: string;
  timezone: string;
  thresholdSeconds: number;
  skewSeconds: number;
  compress: Compress;
}

export interface SegmentRun {
  rendered: number;
  plays: number;
  current: number;
  busy: number;
}

/**
 * Renders the segments of every hour that has closed (its end plus the clock skew has passed) and has
 * plays, of today and the two days before, for every client-day with no final report yet, unless the
 * recorded segment is still current. One transaction per client-day, holding the report's lock for
 * it (a day being reported is skipped, and left to the report).
 */
export async function renderSegments(pool: Pool, cfg: SegmentSettings, now = Date.now()): Promise<SegmentRun> {
  const run: SegmentRun = { rendered: 0, plays: 0, current: 0, busy: 0 };
  const last = today(cfg.timezone, new Date(now));
  for (const day of [addDays(last, -2), addDays(last, -1), last]) {
    const hours = hoursOf(day, cfg.timezone);
    const closed = hours.filter((h) => h.to.getTime() + cfg.skewSeconds * 1000 <= now);
    if (closed.length === 0) continue;
    const clients = await pool.query<{ client: string }>(
      `select client from play_buckets where bucket >= $2 and bucket < $3 group by client having sum(plays) > 0
       except select client from report_versions where day = $1 and status = 'final'`,
      [day, hours[0]!.from, closed.at(-1)!.to],
    );
    for (const { client } of clients.rows) {
      const scope = { client, day, timezone: cfg.timezone, thresholdSeconds: cfg.thresholdSeconds };
      await renderDay(pool, scope, closed.length, cfg, run);
    }
  }
  return run;
}

async function renderDay(pool: Pool, s: DayScope, closedHours: number, cfg: SegmentSettings, run: SegmentRun): Promise<void> {
  const dir = segmentFolder(cfg.reportDir, s.client, s.day);
  const form = formOf(s, cfg.compress);
  const db = await pool.connect();
  const replaced: string[] = [];
  try {
    await db.query('begin isolation level repeatable read');
    const locked = await db.query<{ ok: boolean }>('select pg_try_advisory_xact_lock(hashtext($1)) as ok', [`report:${s.client}:${s.day}`]);
    if (!locked.rows[0]!.ok) {
      run.busy++;
      await db.query('rollback');
      db.release();
      return;
    }
    await onePlan(db);
    const hours = hoursOf(s.day, s.timezone).slice(0, closedHours);
    const fingerprints = await hourFingerprints(db, s.client, hours);
    const rows = await db.query<SegmentRow>(
      `select slice, form, fingerprint, bytes::text, path from report_segments where client = $1 and day = $2`,
      [s.client, s.day],
    );
    const recorded = new Map(rows.rows.map((r) => [r.slice, r]));
    await mkdir(dir, { recursive: true });
    for (const [i, hour] of hours.entries()) {
      const fp = fingerprints[i]!;
      const had = recorded.get(i);
      if (fp.plays === 0 || (had && had.form === form && had.fingerprint === fp.fingerprint)) {
        if (fp.plays > 0) run.current++;
        continue;
      }
      // A new name for every rendering: a report reading the previous one keeps it until it is done.
      const name = `${String(i).padStart(2, '0')}-${createHash('sha256').update(`${form}|${fp.fingerprint}`).digest('hex').slice(0, 12)}.csv${cfg.compress === 'gzip' ? '.gz' : ''}`;
      const path = join(dir, name);
      const tmp = `${path}.tmp-${process.pid}`;
      const out = createWriteStream(tmp);
      const counter = { bytes: 0 };
      try {
        await writePart(renderPerPlay(db, s, hour), cfg.compress, sinkInto(out, undefined, counter));
        out.end();
        await finished(out);
      } catch (err) {
        await abandon(out);
        await rm(tmp, { force: true });
        throw err;
      }
      await rename(tmp, path);
      await db.query(
        `insert into report_segments (client, day, slice, form, fingerprint, plays, bytes, path) values ($1, $2, $3, $4, $5, $6, $7, $8)
         on conflict (client, day, slice) do update
           set form = excluded.form, fingerprint = excluded.fingerprint, plays = excluded.plays, bytes = excluded.bytes,
               path = excluded.path, rendered_at = now()`,
        [s.client, s.day, i, form, fp.fingerprint, fp.plays, counter.bytes, path],
      );
      if (had && had.path !== path) replaced.push(had.path);
      run.rendered++;
      run.plays += fp.plays;
    }
    await db.query('commit');
  } catch (err) {
    // Discarded, not rolled back: a COPY stopped half-way by this side (the segment's file failed)
    // leaves the connection mid-copy, where a ROLLBACK would wait forever. Closing it rolls back.
    db.release(err instanceof Error ? err : true);
    throw err;
  }
  db.release();
  for (const path of replaced) await rm(path, { force: true });
}

/** After a day is reported its segments are not needed: the report deletes their rows in its transaction, then the files. */
export async function forgetSegments(db: Session, client: string, day: string): Promise<boolean> {
  const r = await db.query('delete from report_segments where client = $1 and day = $2', [client, day]);
  return (r.rowCount ?? 0) > 0;
}

export async function removeSegmentFiles(reportDir: string, client: string, day: string): Promise<void> {
  await rm(segmentFolder(reportDir, client, day), { recursive: true, force: true });
}
