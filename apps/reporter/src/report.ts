import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { copyOut } from './copy-out.js';
import { aggregateDay, clientUsageCopy, dailyUsageCopy, fingerprint, storeAggregates, type DayScope } from './usage.js';

export type ReportStatus = 'final' | 'provisional';

export interface Issued {
  client: string;
  day: string;
  /** Version issued by this run, or the current one when nothing changed. */
  version: number;
  issued: boolean;
  status: ReportStatus;
  path: string;
  plays: number;
}

interface FileInfo {
  sha256: string;
  bytes: number;
}

/** Streams a COPY … TO STDOUT into a file, hashing it on the way; memory stays flat whatever the size. */
async function copyToFile(db: pg.ClientBase, sql: string, file: string): Promise<FileInfo> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await pipeline(db.query(copyOut(sql)), tap, createWriteStream(file));
  return { sha256: hash.digest('hex'), bytes };
}

/** Two connections: the report's transaction runs on `main`; client-usage.csv is written on `plays` meanwhile. */
export interface ReportConnections {
  main: pg.PoolClient;
  plays: pg.PoolClient;
}

/**
 * Runs `sql` (a COPY … TO STDOUT) into `file` in a read-only transaction that sees exactly the exported
 * snapshot, i.e. the same plays as the report's own transaction.
 */
async function copyInSnapshot(db: pg.PoolClient, snapshot: string, sql: string, file: string): Promise<FileInfo> {
  await db.query('begin isolation level repeatable read read only');
  try {
    await db.query(`set transaction snapshot ${(db as unknown as pg.Client).escapeLiteral(snapshot)}`);
    const info = await copyToFile(db, sql, file);
    await db.query('commit');
    return info;
  } catch (err) {
    await rollbackQuietly(db);
    throw err;
  }
}

/**
 * Rolls back without waiting forever: a COPY whose output stream failed on our side (disk full) leaves
 * its connection unable to answer, and the caller must still get its error (the process then exits
 * and the connection goes with it).
 */
async function rollbackQuietly(db: pg.ClientBase): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 5_000)));
  await Promise.race([
    db.query('rollback').then(
      () => undefined,
      () => undefined,
    ),
    timeout,
  ]);
  clearTimeout(timer);
}

/** Both results, or the first failure once both have settled (neither is left running). */
async function both<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (ra.status === 'rejected') throw ra.reason;
  if (rb.status === 'rejected') throw rb.reason;
  return [ra.value, rb.value];
}

/**
 * Issues the report of one client's day, unless nothing changed since its last version. In one
 * repeatable-read transaction (so CSVs, aggregates and manifest see the same plays): compare the
 * fingerprint with the last version's; if new, store the aggregates as version N+1, write the files
 * into a temporary folder and move it to `<dir>/<client>/<day>/v<N>/`. Old versions stay.
 * The per-play client-usage.csv is written at the same time as the aggregates are computed, on the
 * second connection, in the transaction's exported snapshot: the database works on both at once.
 */
export async function issueDay(conns: ReportConnections, reportDir: string, scope: DayScope, status: ReportStatus): Promise<Issued> {
  const db = conns.main;
  await db.query('begin isolation level repeatable read');
  try {
    // work_mem stays at the server's setting: raised (256 MB was tried), the planner sorts a big day in
    // one process instead of in parallel workers, and the aggregate took twice as long (bench/reporter).
    // One reporter per client-day at a time (a CronJob and a manual run must not both issue vN+1).
    await db.query('select pg_advisory_xact_lock(hashtext($1))', [`report:${scope.client}:${scope.day}`]);
    const { fingerprint: fp, plays } = await fingerprint(db, scope);
    const last = (
      await db.query<{ version: number; fingerprint: string; status: ReportStatus; path: string }>(
        'select version, fingerprint, status, path from report_versions where client = $1 and day = $2 order by version desc limit 1',
        [scope.client, scope.day],
      )
    ).rows[0];
    // Unchanged data issues nothing new; a provisional version is superseded by a final one.
    if (last && last.fingerprint === fp && (last.status === 'final' || status === 'provisional')) {
      await db.query('rollback');
      return { client: scope.client, day: scope.day, version: last.version, issued: false, status: last.status, path: last.path, plays };
    }
    const version = (last?.version ?? 0) + 1;
    const dir = join(reportDir, scope.client, scope.day, `v${version}`);
    await db.query(
      `insert into report_versions (client, day, version, status, timezone, threshold_seconds, play_count, row_count, fingerprint, path, files)
       values ($1, $2, $3, $4, $5, $6, $7, 0, $8, $9, '{}')`,
      [scope.client, scope.day, version, status, scope.timezone, scope.thresholdSeconds, plays, fp, dir],
    );
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const snapshot = (await db.query<{ id: string }>('select pg_export_snapshot() as id')).rows[0]!.id;
    const perPlay = copyInSnapshot(conns.plays, snapshot, clientUsageCopy(db, scope), join(tmp, 'client-usage.csv'));
    const aggregates = (async () => {
      const rows = await aggregateDay(db, scope);
      await storeAggregates(db, scope, version);
      return { rows, daily: await copyToFile(db, dailyUsageCopy(db, scope), join(tmp, 'daily-usage.csv')) };
    })();
    const [{ rows, daily }, clientUsage] = await both(aggregates, perPlay);
    const files = { 'daily-usage.csv': daily, 'client-usage.csv': clientUsage };
    const generatedAt = new Date().toISOString();
    const manifest = {
      client: scope.client,
      date: scope.day,
      version,
      status,
      generated_at: generatedAt,
      timezone: scope.timezone,
      royalty_threshold_seconds: scope.thresholdSeconds,
      plays,
      rows: { 'daily-usage.csv': rows, 'client-usage.csv': plays },
      files,
      supersedes: last ? `v${last.version}` : null,
    };
    await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    await db.query(
      'update report_versions set row_count = $4, files = $5, generated_at = $6 where client = $1 and day = $2 and version = $3',
      [scope.client, scope.day, version, rows, JSON.stringify(files), generatedAt],
    );
    await rm(dir, { recursive: true, force: true }); // a leftover of a run that died before its commit
    await rename(tmp, dir);
    await db.query('commit');
    return { client: scope.client, day: scope.day, version, issued: true, status, path: dir, plays };
  } catch (err) {
    await rollbackQuietly(db);
    throw err;
  }
}
