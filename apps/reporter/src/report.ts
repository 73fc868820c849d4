import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import copyStreams from 'pg-copy-streams';
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
  await pipeline(db.query(copyStreams.to(sql)), tap, createWriteStream(file));
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * Issues the report of one client's day, unless nothing changed since its last version. In one
 * repeatable-read transaction (so CSVs, aggregates and manifest see the same plays): compare the
 * fingerprint with the last version's; if new, store the aggregates as version N+1, write the files
 * into a temporary folder and move it to `<dir>/<client>/<day>/v<N>/`. Old versions stay.
 */
export async function issueDay(db: pg.PoolClient, reportDir: string, scope: DayScope, status: ReportStatus): Promise<Issued> {
  await db.query('begin isolation level repeatable read');
  try {
    // Big days sort and hash millions of rows: give this transaction room to do it in memory.
    await db.query(`set local work_mem = '256MB'`);
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
    const rows = await aggregateDay(db, scope);
    await storeAggregates(db, scope, version);

    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const files = {
      'daily-usage.csv': await copyToFile(db, dailyUsageCopy(db, scope), join(tmp, 'daily-usage.csv')),
      'client-usage.csv': await copyToFile(db, clientUsageCopy(db, scope), join(tmp, 'client-usage.csv')),
    };
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
    await db.query('rollback').catch(() => undefined);
    throw err;
  }
}
