import { createPool, type Pool, type PoolClient } from '@playlog/db';
import { addDays, dayRange, LIMITS, reportableDay, today } from '@playlog/schema';
import type { ReporterConfig } from './config.js';
import { checkWritable, UnsafeFolderError } from './folders.js';
import { waitForCompleteness } from './gate.js';
import { progressBar } from './progress.js';
import { issueDay, type Issued, type ReportStatus, type Verify } from './report.js';
import { renderSegments } from './segments.js';
import { clientDays, clientsForDay, type ClientDay } from './usage.js';

/** A command line the reporter cannot act on; main.ts prints it with the usage and exits 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Exit code when plays acknowledged before the run were not all loaded in time. */
const EXIT_INCOMPLETE = 3;

/** What one invocation asks for, as main.ts parsed it from the command line. */
export interface ReporterRequest {
  command: string;
  date?: string;
  from?: string;
  to?: string;
  waitSeconds: number;
  allowIncomplete: boolean;
}

/** Where the reporter's lines go: stdout and stderr for the CLI, an array in tests. */
export interface ReporterIo {
  out(line: string): void;
  err(line: string): void;
}

const consoleIo: ReporterIo = { out: (l) => console.log(l), err: (l) => console.error(l) };

interface Plan {
  /** The days asked for by name (--date, backfill). */
  days: string[];
  /**
   * A plain run: every closed day of the window instead. Days with plays and no version are reported
   * (caught up: a night missed, or a day whose first plays came late), days whose plays changed since
   * their last version are restated, the others checked.
   */
  window?: { from: string; to: string };
  /** How unchanged versions' folders are checked (see Verify). */
  verify: Verify;
}

/** The days this invocation reports, or a usage error saying why it cannot. */
function plan(request: ReporterRequest, config: ReporterConfig, io: ReporterIo): Plan {
  const { command } = request;
  const values = { date: request.date, from: request.from, to: request.to };
  const check = (day: string) => reportableDay(day, config.timezone, config.clockSkewSeconds, LIMITS.windowDays);
  if (command === 'run') {
    if (values.from || values.to) throw new UsageError('run takes --date; --from and --to are for backfill');
    if (values.date) {
      const c = check(values.date);
      if (!c.ok) throw new UsageError(c.why!);
      // A day asked for by name is checked byte for byte against its manifest.
      return { days: [values.date], verify: 'hashes' };
    }
    const yesterday = addDays(today(config.timezone), -1);
    const c = check(yesterday);
    if (!c.ok) io.out(`reporter: not reporting yesterday: ${c.why}. The next run will.`);
    // Every day of the window that can be reported: closed, and not so old that no play of it could still arrive.
    const closed = dayRange(addDays(yesterday, -LIMITS.windowDays), yesterday).filter((d) => check(d).ok);
    return { days: [], window: closed.length ? { from: closed[0]!, to: closed.at(-1)! } : undefined, verify: 'sizes' };
  }
  if (command === 'backfill') {
    if (values.date) throw new UsageError('backfill takes --from and --to; --date is for run');
    if (!values.from || !values.to) throw new UsageError('backfill needs --from and --to');
    if (values.from > values.to) throw new UsageError('--from must not be after --to');
    for (const day of [values.from, values.to]) {
      const c = check(day);
      if (!c.ok) throw new UsageError(c.why!);
    }
    return { days: dayRange(values.from, values.to), verify: 'hashes' };
  }
  throw new UsageError(`unknown command ${command}`);
}

/**
 * Runs one reporter command against the database and Kafka that `config` names; returns the exit code
 * (0 done, 1 some day not reported, 3 incomplete). Throws UsageError for a request it cannot act on.
 */
export async function runReporter(config: ReporterConfig, request: ReporterRequest, io: ReporterIo = consoleIo): Promise<number> {
  if (request.command === 'segments') {
    if (request.date || request.from || request.to || request.allowIncomplete) throw new UsageError('segments takes no options');
    await checkWritable(config.reportDir);
    return await segments(config, io);
  }
  const work = plan(request, config, io);
  const waitSeconds = request.waitSeconds;
  // Before the gate and before any transaction: a REPORT_DIR that cannot take files fails the run now.
  await checkWritable(config.reportDir);

  // A report's aggregates on one connection, its per-play file on REPORT_PER_PLAY_CONNECTIONS others,
  // at the same time.
  // No statement timeout: a production-size day's per-play COPY runs for minutes. A session left idle
  // inside a transaction for 30 min (a stuck file system, a hung process) is ended by the server; the
  // aggregates' connection waits idle while the per-play file is written, so this is the backstop only.
  const pool = createPool(config.databaseUrl, 1 + config.perPlayConnections, 'playlog-reporter', {
    statementTimeoutMs: 0,
    idleInTransactionMs: 1_800_000,
  });
  try {
    const gate = await waitForCompleteness(pool, {
      ack: config.edge,
      ackTopic: config.edgeTopic,
      loader: config.kafka,
      loaderTopic: config.kafkaTopic,
      loaderGroup: config.loaderGroupId,
      secret: config.gateSecret,
      waitMs: waitSeconds * 1000,
      say: (line) => io.err(`reporter: ${line}`),
    });
    let status: ReportStatus = 'final';
    if (!gate.complete) {
      const what =
        gate.problem ??
        `the loader has not caught up: plays acknowledged before this run on partition${gate.waiting.length > 1 ? 's' : ''} ` +
          `${gate.waiting.join(', ')} of ${config.edgeTopic} (at ${config.edge.brokers}) are not all in Postgres yet (waited ${waitSeconds}s)`;
      if (!request.allowIncomplete) {
        io.err(`reporter: ${what}. Run again later, or pass --allow-incomplete to issue a provisional report.`);
        return EXIT_INCOMPLETE;
      }
      io.err(`reporter: ${what}; issuing provisional reports`);
      status = 'provisional';
    }
    return await report(config, pool, work, status, io);
  } finally {
    await pool.end();
  }
}

/** `reporter segments`: no gate (a segment is checked against its hour's plays when a report uses it). */
async function segments(config: ReporterConfig, io: ReporterIo): Promise<number> {
  const pool = createPool(config.databaseUrl, 1, 'playlog-reporter-segments', { statementTimeoutMs: 0, idleInTransactionMs: 1_800_000 });
  try {
    const started = Date.now();
    const r = await renderSegments(pool, {
      reportDir: config.reportDir,
      timezone: config.timezone,
      thresholdSeconds: config.royaltyThresholdSeconds,
      skewSeconds: config.clockSkewSeconds,
      compress: config.compress,
    });
    io.out(
      `segments: ${r.rendered} hours rendered (${r.plays} plays), ${r.current} already current, ` +
        `${r.busy} client-days skipped while being reported, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return 0;
  } finally {
    await pool.end();
  }
}

async function report(config: ReporterConfig, pool: Pool, work: Plan, status: ReportStatus, io: ReporterIo): Promise<number> {
  const conns: PoolClient[] = [];
  let failed: unknown;
  try {
    while (conns.length < 1 + config.perPlayConnections) {
      const c = await pool.connect();
      c.on('error', () => undefined); // a lost connection also fails the running query, which reports it
      conns.push(c);
    }
    const [db, ...plays] = conns as [PoolClient, ...PoolClient[]];
    const pending: ClientDay[] = [];
    if (work.window) pending.push(...(await clientDays(db, work.window.from, work.window.to, config.timezone)));
    for (const day of work.days) for (const client of await clientsForDay(db, day, config.timezone)) pending.push({ client, day });
    const bar = progressBar(pending.length);
    const done: Issued[] = [];
    const refused: string[] = [];
    for (const [i, { client, day }] of pending.entries()) {
      bar.update(i, `${client} ${day}`);
      const scope = { client, day, timezone: config.timezone, thresholdSeconds: config.royaltyThresholdSeconds };
      try {
        done.push(await issueDay({ main: db, plays }, config.reportDir, scope, status, work.verify, config.compress));
      } catch (err) {
        if (!(err instanceof UnsafeFolderError)) throw err;
        refused.push(`${day}: ${err.message}`);
      }
    }
    bar.done();
    const yesterday = addDays(today(config.timezone), -1);
    for (const r of done) {
      // A first version of a day before yesterday, in a plain run, is a day caught up.
      const what =
        r.outcome === 'issued' && r.version === 1 && work.window && r.day < yesterday ? '; caught up: no version had been issued' : '';
      const why = r.reason ? `; ${r.reason}` : '';
      const ahead = r.segments?.used ? `; ${r.segments.used} of ${r.segments.hours} hours from segments` : '';
      const plan = r.exactPlan ? `; aggregates by the exact plan: ${r.exactPlan}` : '';
      io.out(`${r.outcome} ${r.client} ${r.day} v${r.version} (${r.status}, ${r.plays} plays${what}${ahead}${plan}${why}): ${r.path}`);
    }
    const scope = work.window ? `${work.window.from} to ${work.window.to}` : work.days.join(', ');
    if (done.length === 0 && refused.length === 0) io.out(`no plays to report for ${scope || 'any day'}`);
    const summary = new Map<string, number>();
    for (const r of done) summary.set(r.outcome, (summary.get(r.outcome) ?? 0) + 1);
    if (done.length > 0) io.out(`reporter: ${[...summary].map(([k, v]) => `${v} ${k}`).join(', ')} (client-days of ${scope})`);
    for (const r of refused) io.err(`reporter: not reported: ${r}`);
    return refused.length > 0 ? 1 : 0;
  } catch (err) {
    failed = err;
    throw err;
  } finally {
    // After a failure a connection may be stuck mid-COPY: discard them all (the server then ends their
    // transactions) instead of handing them back to the pool, whose end() would wait on them.
    for (const c of conns) c.release(failed instanceof Error ? failed : undefined);
  }
}
