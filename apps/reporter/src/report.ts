import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { copyOut, dailyUsageLeaf, escapeIdentifier, escapeLiteral, type PoolClient, type Session } from '@playlog/db';
import { reportFolder } from './folders.js';
import { writeClientUsage } from './client-usage.js';
import { clientUsageFile, forgetSegments, removeSegmentFiles, type Compress } from './segments.js';
import { DailyOrderCheck } from './daily-order.js';
import { aggregateDay, attachAggregates, dailyUsageCopy, fingerprint, STORED_ORDER, type DayScope } from './usage.js';

export type { Compress } from './segments.js';

export type ReportStatus = 'final' | 'provisional';

/** How an unchanged version's folder is checked: file sizes, or every byte against its sha256. */
export type Verify = 'sizes' | 'hashes';

export interface Issued {
  client: string;
  day: string;
  /** Version issued by this run, or the current one when nothing changed. */
  version: number;
  /** What the run did: a new version, nothing (unchanged), or rewrote the current version's folder. */
  outcome: 'issued' | 'unchanged' | 'restored';
  /** Why a folder was restored (what was missing or altered). */
  reason?: string;
  /** Of an issued version: the hours of client-usage copied from segments rendered ahead, of all hours. */
  segments?: { used: number; hours: number };
  /** Of an issued version: why its aggregates came from the exact plan, not the keyed one (usage.ts), if they did. */
  exactPlan?: string;
  status: ReportStatus;
  path: string;
  plays: number;
}

interface FileInfo {
  sha256: string;
  bytes: number;
}

type Files = Record<string, FileInfo>;

const FILES = ['daily-usage.csv', 'client-usage.csv', 'client-usage.csv.gz'] as const;

/** The version's per-play file, as it was issued (older versions keep theirs whatever REPORT_COMPRESS says now). */
function clientUsageOf(files: Files): { name: string; compress: Compress } {
  return files['client-usage.csv.gz'] ? { name: 'client-usage.csv.gz', compress: 'gzip' } : { name: 'client-usage.csv', compress: 'none' };
}

/**
 * Streams a COPY … TO STDOUT into a file, hashing it on the way; memory stays flat whatever the size.
 * `check`, if given, sees the bytes on their way (DailyOrderCheck).
 */
async function copyToFile(db: Session, sql: string, file: string, check?: Transform): Promise<FileInfo> {
  const hash = createHash('sha256');
  let bytes = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  const source = db.query(copyOut(sql));
  await (check ? pipeline(source, check, tap, createWriteStream(file)) : pipeline(source, tap, createWriteStream(file)));
  return { sha256: hash.digest('hex'), bytes };
}

/**
 * The day's aggregates into the version's table (`leaf`) and daily-usage.csv: the keyed plan, the file
 * copied in the table's stored order and checked on the way; if the check finds a problem (a play
 * outside what the key holds, or rows not in order), the table is made again by the exact plan and the
 * file written again, sorted (usage.ts, AggregatePlan).
 */
async function aggregatesAndFile(db: Session, scope: DayScope, version: number, leaf: string, file: string): Promise<Aggregates> {
  const rows = await aggregateDay(db, scope, version, leaf, 'keyed');
  for (const setting of STORED_ORDER) await db.query(setting);
  const check = new DailyOrderCheck();
  const daily = await copyToFile(db, dailyUsageCopy(db, scope, leaf, 'stored'), file, check);
  if (check.problem === undefined) return { rows, daily };
  await db.query(`drop table ${escapeIdentifier(leaf)}`);
  await db.query('set local max_parallel_workers_per_gather to default'); // the exact plan's CTAS in parallel again
  return {
    rows: await aggregateDay(db, scope, version, leaf, 'exact'),
    daily: await copyToFile(db, dailyUsageCopy(db, scope, leaf, 'sorted'), file),
    exactPlan: check.problem,
  };
}

interface Aggregates {
  rows: number;
  daily: FileInfo;
  /** Why the exact plan made them (what the keyed one's check found), if it did. */
  exactPlan?: string;
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

/**
 * The report's transaction runs on `main`; client-usage.csv is written on the `plays` connections
 * meanwhile (REPORT_PER_PLAY_CONNECTIONS, its hours shared out among them).
 */
export interface ReportConnections {
  main: PoolClient;
  plays: readonly PoolClient[];
}

/**
 * Runs `work` in read-only transactions, one per connection, that see exactly the exported snapshot,
 * i.e. the same plays as the report's own transaction.
 */
async function inSnapshot<T>(
  conns: readonly PoolClient[],
  snapshot: string,
  work: (conns: readonly PoolClient[]) => Promise<T>,
): Promise<T> {
  try {
    for (const db of conns) {
      await db.query('begin isolation level repeatable read read only');
      await db.query(`set transaction snapshot ${escapeLiteral(snapshot)}`);
    }
    const result = await work(conns);
    for (const db of conns) await db.query('commit');
    return result;
  } catch (err) {
    await Promise.all(conns.map((db) => rollbackQuietly(db)));
    throw err;
  }
}

/**
 * Rolls back without waiting forever: a COPY whose output stream failed on our side (disk full) leaves
 * its connection unable to answer, and the caller must still get its error (the caller then discards
 * the connection, which ends the server's transaction).
 */
async function rollbackQuietly(db: Session): Promise<void> {
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

interface VersionRow {
  version: number;
  fingerprint: string;
  status: ReportStatus;
  generated_at: Date;
  timezone: string;
  threshold_seconds: number;
  play_count: number;
  row_count: number;
  files: Files;
}

/**
 * The files of a version in one order (jsonb keeps its own key order), so that a manifest written
 * again is the same bytes and two lists compare equal.
 */
function canonical(files: Files): Files {
  const out: Files = {};
  for (const name of FILES) if (files?.[name]) out[name] = { sha256: files[name].sha256, bytes: Number(files[name].bytes) };
  return out;
}

/** manifest.json of a version, from its report_versions row: a restored folder's manifest is the original's. */
function manifestOf(client: string, day: string, v: VersionRow): string {
  const manifest = {
    client,
    date: day,
    version: v.version,
    status: v.status,
    generated_at: v.generated_at.toISOString(),
    timezone: v.timezone,
    royalty_threshold_seconds: v.threshold_seconds,
    plays: v.play_count,
    rows: { 'daily-usage.csv': v.row_count, [clientUsageOf(v.files).name]: v.play_count },
    files: canonical(v.files),
    csv_escaping: `${clientUsageOf(v.files).name}: a text cell that began with = + - @ ' TAB or CR has one ' added in front`,
    supersedes: v.version > 1 ? `v${v.version - 1}` : null,
  };
  return JSON.stringify(manifest, null, 2) + '\n';
}

/**
 * What is wrong with an issued version's folder, or undefined when it holds the version as issued: the
 * manifest of that version, and each file with its recorded size (and, with `hashes`, its sha256).
 */
export async function folderProblem(dir: string, v: VersionRow, verify: Verify): Promise<string | undefined> {
  let manifest: { version?: unknown; files?: unknown };
  try {
    manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as typeof manifest;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return e.code === 'ENOENT' ? `${join(dir, 'manifest.json')} is missing` : `${join(dir, 'manifest.json')} is unreadable: ${e.message}`;
  }
  const files = canonical(v.files);
  if (manifest.version !== v.version || JSON.stringify(canonical(manifest.files as Files)) !== JSON.stringify(files)) {
    return `${join(dir, 'manifest.json')} does not describe v${v.version} as issued`;
  }
  for (const [name, want] of Object.entries(files)) {
    const file = join(dir, name);
    const size = await stat(file).then(
      (s) => s.size,
      () => undefined,
    );
    if (size === undefined) return `${file} is missing`;
    if (size !== want.bytes) return `${file} has ${size} bytes, ${want.bytes} were issued`;
    if (verify === 'hashes' && (await sha256Of(file)) !== want.sha256) return `${file} does not match its sha256 in the manifest`;
  }
  return undefined;
}

/** Moves a finished temporary folder into place, replacing whatever a failed or damaged one left there. */
async function putInPlace(tmp: string, dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

/**
 * Issues the report of one client's day, unless nothing changed since its last version. In one
 * repeatable-read transaction (so CSVs, aggregates and manifest see the same plays): compare the
 * fingerprint with the last version's; if new, store the aggregates as version N+1, write the files
 * into a temporary folder and move it to `<dir>/<client>/<day>/v<N>/`. Old versions stay.
 * The per-play client-usage.csv is written at the same time as the aggregates are computed, on the
 * `plays` connections (one by default; with more, its hours shared out among them), in the
 * transaction's exported snapshot.
 * When nothing changed, the current version's folder is checked (`verify`); a missing or altered one
 * is written again from the same plays and stored figures, and must come out byte for byte as issued.
 */
export async function issueDay(
  conns: ReportConnections,
  reportDir: string,
  scope: DayScope,
  status: ReportStatus,
  verify: Verify = 'hashes',
  compress: Compress = 'none',
): Promise<Issued> {
  const db = conns.main;
  let tmp: string | undefined;
  await db.query('begin isolation level repeatable read');
  try {
    // work_mem stays at the server's setting: raised (256 MB was tried), the planner sorts a big day in
    // one process instead of in parallel workers, and the aggregate took twice as long (bench/reporter).
    // One reporter per client-day at a time (a CronJob and a manual run must not both issue vN+1).
    await db.query('select pg_advisory_xact_lock(hashtext($1))', [`report:${scope.client}:${scope.day}`]);
    const { fingerprint: fp, plays } = await fingerprint(db, scope);
    const last = (
      await db.query<VersionRow>(
        `select version, fingerprint, status, generated_at, timezone, threshold_seconds, play_count, row_count, files
           from report_versions where client = $1 and day = $2 order by version desc limit 1`,
        [scope.client, scope.day],
      )
    ).rows[0];
    const base = { client: scope.client, day: scope.day, plays };
    // Unchanged data issues nothing new; a provisional version is superseded by a final one.
    if (last && last.fingerprint === fp && (last.status === 'final' || status === 'provisional')) {
      const dir = reportFolder(reportDir, scope.client, scope.day, last.version);
      const problem = await folderProblem(dir, last, verify);
      if (!problem) {
        await db.query('rollback');
        return { ...base, version: last.version, outcome: 'unchanged', status: last.status, path: dir };
      }
      const restored = await restore(conns, dir, scope, last);
      if (restored === true) {
        await db.query('update report_versions set path = $4 where client = $1 and day = $2 and version = $3', [
          scope.client,
          scope.day,
          last.version,
          dir,
        ]);
        await db.query('commit');
        return { ...base, version: last.version, outcome: 'restored', reason: problem, status: last.status, path: dir };
      }
      // Written again, it differs from what was issued: the plays behind it changed after all. Issue anew.
    }
    const version = (last?.version ?? 0) + 1;
    const dir = reportFolder(reportDir, scope.client, scope.day, version);
    const generatedAt = new Date();
    await db.query(
      `insert into report_versions (client, day, version, status, generated_at, timezone, threshold_seconds, play_count, row_count, fingerprint, path, files)
       values ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, $10, '{}')`,
      [scope.client, scope.day, version, status, generatedAt, scope.timezone, scope.thresholdSeconds, plays, fp, dir],
    );
    tmp = await freshTemp(dir);
    const snapshot = (await db.query<{ id: string }>('select pg_export_snapshot() as id')).rows[0]!.id;
    const perPlayFile = clientUsageFile(compress);
    const perPlay = inSnapshot(conns.plays, snapshot, (cs) => writeClientUsage(cs, scope, join(tmp!, perPlayFile), compress, reportDir));
    const leaf = dailyUsageLeaf(scope.client, scope.day, version);
    const aggregates = aggregatesAndFile(db, scope, version, leaf, join(tmp, 'daily-usage.csv'));
    const [{ rows, daily, exactPlan }, clientUsage] = await both(aggregates, perPlay);
    await attachAggregates(db, scope, version, leaf);
    const hadSegments = await forgetSegments(db, scope.client, scope.day);
    const files: Files = { 'daily-usage.csv': daily, [perPlayFile]: { sha256: clientUsage.sha256, bytes: clientUsage.bytes } };
    const row: VersionRow = {
      version,
      fingerprint: fp,
      status,
      generated_at: generatedAt,
      timezone: scope.timezone,
      threshold_seconds: scope.thresholdSeconds,
      play_count: plays,
      row_count: rows,
      files,
    };
    await writeFile(join(tmp, 'manifest.json'), manifestOf(scope.client, scope.day, row));
    await db.query('update report_versions set row_count = $4, files = $5 where client = $1 and day = $2 and version = $3', [
      scope.client,
      scope.day,
      version,
      rows,
      JSON.stringify(files),
    ]);
    await putInPlace(tmp, dir); // a folder left by a run that died before its commit is replaced
    tmp = undefined;
    await db.query('commit');
    if (hadSegments) await removeSegmentFiles(reportDir, scope.client, scope.day).catch(() => undefined);
    const segments = { used: clientUsage.fromSegments, hours: clientUsage.hours };
    return { ...base, version, outcome: 'issued', status, path: dir, segments, ...(exactPlan ? { exactPlan } : {}) };
  } catch (err) {
    await rollbackQuietly(db);
    if (tmp) await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** An empty temporary folder beside `dir`, where a version is written before it is moved into place. */
async function freshTemp(dir: string): Promise<string> {
  const tmp = `${dir}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  return tmp;
}

/**
 * Writes version `v` of the day again into `dir`: daily-usage.csv from the figures stored for it,
 * client-usage.csv from the plays (unchanged, by the fingerprint), the manifest from its row. True when
 * every file comes out as issued (same sha256) and is in place; false, leaving `dir` as it was, otherwise.
 */
async function restore(conns: ReportConnections, dir: string, scope: DayScope, v: VersionRow): Promise<boolean> {
  const db = conns.main;
  const tmp = await freshTemp(dir);
  try {
    const daily = await copyToFile(
      db,
      dailyUsageCopy(db, scope, dailyUsageLeaf(scope.client, scope.day, v.version)),
      join(tmp, 'daily-usage.csv'),
    );
    const perPlay = clientUsageOf(v.files);
    const clientUsage = await writeClientUsage([db], scope, join(tmp, perPlay.name), perPlay.compress);
    const written: Files = { 'daily-usage.csv': daily, [perPlay.name]: clientUsage };
    if (Object.keys(canonical(v.files)).some((f) => written[f]?.sha256 !== v.files[f]?.sha256)) return false;
    await writeFile(join(tmp, 'manifest.json'), manifestOf(scope.client, scope.day, v));
    await putInPlace(tmp, dir);
    return true;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
