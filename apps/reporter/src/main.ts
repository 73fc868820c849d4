import { commandLine, ConfigError, type CliValues } from '@playlog/config';
import { createPool } from '@playlog/db';
import type pg from 'pg';
import { LIMITS } from '@playlog/schema';
import { loadReporterConfig, type ReporterConfig } from './config.js';
import { addDays, dayRange, isDay, reportableDay, today } from './days.js';
import { checkWritable, UnsafeFolderError } from './folders.js';
import { waitForCompleteness } from './gate.js';
import { progressBar } from './progress.js';
import { issueDay, type Issued, type ReportStatus, type Verify } from './report.js';
import { renderSegments } from './segments.js';
import { clientDays, clientsForDay, type ClientDay } from './usage.js';

const USAGE = `usage:
  npm run reporter -- run [--date YYYY-MM-DD] [--wait SECONDS] [--allow-incomplete]
      Reports one day. Without --date (the nightly job): every closed day of the last 61 days in
      REPORT_TIMEZONE: yesterday, every day with loaded plays and no issued version yet (a night
      missed, or a day whose first plays came late), and a new version of every day whose loaded
      plays changed since its last one.
  npm run reporter -- backfill --from YYYY-MM-DD --to YYYY-MM-DD [--wait SECONDS] [--allow-incomplete]
      Reports every day in the range.
  npm run reporter -- segments
      Renders, ahead of the report, the per-play rows of every closed hour of the last three days not
      yet reported (hourly job): the night's run then copies them instead of querying those hours.
  --wait SECONDS        how long to wait until every play acknowledged before the run is in Postgres
                        (default 300; it says what it waits for every 10 s)
  --allow-incomplete    if they are not, issue a provisional version instead of failing
  A day can be reported once it has closed in REPORT_TIMEZONE (plus CLOCK_SKEW_SECONDS) and while it is
  within the 61-day window. An issued folder found missing or altered is written again as issued.
exit codes: 0 done, 1 error, 2 usage, 3 plays acknowledged before the run were not all loaded in time`;

class UsageError extends Error {}

const EXIT_INCOMPLETE = 3;

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

const OPTIONS = {
  date: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  wait: { type: 'string', default: '300' },
  'allow-incomplete': { type: 'boolean', default: false },
} as const;

/** The days this invocation reports, or a usage error saying why it cannot. */
function plan(command: string, values: CliValues<typeof OPTIONS>, config: ReporterConfig): Plan {
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
    if (!c.ok) console.log(`reporter: not reporting yesterday: ${c.why}. The next run will.`);
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

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = commandLine('reporter', USAGE, argv, OPTIONS, true);
  const command = positionals[0];
  if (!command) throw new UsageError('a command is required');
  if (positionals.length > 1) throw new UsageError(`unexpected argument ${positionals[1]}`);
  const waitSeconds = Number(values.wait);
  if (!/^\d+(\.\d+)?$/.test(values.wait) || !Number.isFinite(waitSeconds)) throw new UsageError('--wait must be a number of seconds');
  for (const [flag, v] of [
    ['--date', values.date],
    ['--from', values.from],
    ['--to', values.to],
  ] as const) {
    if (v !== undefined && !isDay(v)) throw new UsageError(`${flag} must be a date YYYY-MM-DD (got ${v})`);
  }
  const config = loadReporterConfig();
  if (command === 'segments') {
    if (values.date || values.from || values.to || values['allow-incomplete']) throw new UsageError('segments takes no options');
    await checkWritable(config.reportDir);
    return await segments(config);
  }
  const work = plan(command, values, config);
  // Before the gate and before any transaction: a REPORT_DIR that cannot take files fails the run now.
  await checkWritable(config.reportDir);

  // Two connections: a report's aggregates on one, its per-play file on the other, at the same time.
  // No statement timeout: a production-size day's per-play COPY runs for minutes. A session left idle
  // inside a transaction for 30 min (a stuck file system, a hung process) is ended by the server; the
  // aggregates' connection waits idle while the per-play file is written, so this is the backstop only.
  const pool = createPool(config.databaseUrl, 2, 'playlog-reporter', { statementTimeoutMs: 0, idleInTransactionMs: 1_800_000 });
  try {
    const gate = await waitForCompleteness(pool, {
      ackBrokers: config.edgeBrokers,
      ackTopic: config.edgeTopic,
      loaderBrokers: config.kafkaBrokers,
      loaderTopic: config.kafkaTopic,
      loaderGroup: config.loaderGroupId,
      waitMs: waitSeconds * 1000,
      say: (line) => console.error(`reporter: ${line}`),
    });
    let status: ReportStatus = 'final';
    if (!gate.complete) {
      const what =
        gate.problem ??
        `the loader has not caught up: plays acknowledged before this run on partition${gate.waiting.length > 1 ? 's' : ''} ` +
          `${gate.waiting.join(', ')} of ${config.edgeTopic} (at ${config.edgeBrokers}) are not all in Postgres yet (waited ${waitSeconds}s)`;
      if (!values['allow-incomplete']) {
        console.error(`reporter: ${what}. Run again later, or pass --allow-incomplete to issue a provisional report.`);
        return EXIT_INCOMPLETE;
      }
      console.error(`reporter: ${what}; issuing provisional reports`);
      status = 'provisional';
    }
    return await report(config, pool, work, status);
  } finally {
    await pool.end();
  }
}

/** `reporter segments`: no gate (a segment is checked against its hour's plays when a report uses it). */
async function segments(config: ReporterConfig): Promise<number> {
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
    console.log(
      `segments: ${r.rendered} hours rendered (${r.plays} plays), ${r.current} already current, ` +
        `${r.busy} client-days skipped while being reported, in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    return 0;
  } finally {
    await pool.end();
  }
}

async function report(config: ReporterConfig, pool: pg.Pool, work: Plan, status: ReportStatus): Promise<number> {
  const db = await pool.connect();
  const plays = await pool.connect();
  for (const c of [db, plays]) c.on('error', () => undefined); // a lost connection also fails the running query, which reports it
  let failed: unknown;
  try {
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
      console.log(`${r.outcome} ${r.client} ${r.day} v${r.version} (${r.status}, ${r.plays} plays${what}${ahead}${why}): ${r.path}`);
    }
    const scope = work.window ? `${work.window.from} to ${work.window.to}` : work.days.join(', ');
    if (done.length === 0 && refused.length === 0) console.log(`no plays to report for ${scope || 'any day'}`);
    const summary = new Map<string, number>();
    for (const r of done) summary.set(r.outcome, (summary.get(r.outcome) ?? 0) + 1);
    if (done.length > 0) console.log(`reporter: ${[...summary].map(([k, v]) => `${v} ${k}`).join(', ')} (client-days of ${scope})`);
    for (const r of refused) console.error(`reporter: not reported: ${r}`);
    return refused.length > 0 ? 1 : 0;
  } catch (err) {
    failed = err;
    throw err;
  } finally {
    // After a failure a connection may be stuck mid-COPY: discard both (the server then ends their
    // transactions) instead of handing them back to the pool, whose end() would wait on them.
    db.release(failed instanceof Error ? failed : undefined);
    plays.release(failed instanceof Error ? failed : undefined);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      console.error(`reporter: ${err.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(err instanceof ConfigError ? `reporter: ${err.message}` : `reporter: ${(err as Error).message}`);
    process.exit(1);
  },
);
