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
import { clientsForDay } from './usage.js';

const USAGE = `usage:
  npm run reporter -- run [--date YYYY-MM-DD] [--wait SECONDS] [--allow-incomplete]
      Reports one day (default: yesterday in REPORT_TIMEZONE, once it has closed, plus a new version of
      every earlier day in the last 61 days whose loaded plays changed since its last version).
  npm run reporter -- backfill --from YYYY-MM-DD --to YYYY-MM-DD [--wait SECONDS] [--allow-incomplete]
      Reports every day in the range.
  --wait SECONDS        how long to wait until every play acknowledged before the run is in Postgres
                        (default 300; it says what it waits for every 10 s)
  --allow-incomplete    if they are not, issue a provisional version instead of failing
  A day can be reported once it has closed in REPORT_TIMEZONE (plus CLOCK_SKEW_SECONDS) and while it is
  within the 61-day window. An issued folder found missing or altered is written again as issued.
exit codes: 0 done, 1 error, 2 usage, 3 plays acknowledged before the run were not all loaded in time`;

class UsageError extends Error {}

const EXIT_INCOMPLETE = 3;

interface Plan {
  days: string[];
  /** A plain run: earlier reported days are checked for changes too. */
  restate: boolean;
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
      return { days: [values.date], restate: false, verify: 'hashes' };
    }
    const yesterday = addDays(today(config.timezone), -1);
    const c = check(yesterday);
    if (!c.ok) console.log(`reporter: not reporting yesterday: ${c.why}. The next run will.`);
    return { days: c.ok ? [yesterday] : [], restate: true, verify: 'sizes' };
  }
  if (command === 'backfill') {
    if (values.date) throw new UsageError('backfill takes --from and --to; --date is for run');
    if (!values.from || !values.to) throw new UsageError('backfill needs --from and --to');
    if (values.from > values.to) throw new UsageError('--from must not be after --to');
    for (const day of [values.from, values.to]) {
      const c = check(day);
      if (!c.ok) throw new UsageError(c.why!);
    }
    return { days: dayRange(values.from, values.to), restate: false, verify: 'hashes' };
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

async function report(config: ReporterConfig, pool: pg.Pool, work: Plan, status: ReportStatus): Promise<number> {
  const db = await pool.connect();
  const plays = await pool.connect();
  for (const c of [db, plays]) c.on('error', () => undefined); // a lost connection also fails the running query, which reports it
  let failed: unknown;
  try {
    let days = work.days;
    if (work.restate) {
      // Earlier days already reported whose plays changed since (late, offline plays) get a new version.
      const until = days[0] ?? today(config.timezone);
      const since = addDays(until, -LIMITS.windowDays);
      const r = await db.query<{ day: string }>('select distinct day from report_versions where day >= $1 and day < $2 order by day', [
        since,
        until,
      ]);
      days = [...r.rows.map((x) => x.day), ...days];
    }
    const bar = progressBar(days.length);
    const done: Issued[] = [];
    const refused: string[] = [];
    for (const [i, day] of days.entries()) {
      bar.update(i, day);
      for (const client of await clientsForDay(db, day, config.timezone)) {
        const scope = { client, day, timezone: config.timezone, thresholdSeconds: config.royaltyThresholdSeconds };
        try {
          done.push(await issueDay({ main: db, plays }, config.reportDir, scope, status, work.verify));
        } catch (err) {
          if (!(err instanceof UnsafeFolderError)) throw err;
          refused.push(`${day}: ${err.message}`);
        }
      }
    }
    bar.done();
    for (const r of done) {
      const why = r.reason ? `; ${r.reason}` : '';
      console.log(`${r.outcome} ${r.client} ${r.day} v${r.version} (${r.status}, ${r.plays} plays${why}): ${r.path}`);
    }
    if (done.length === 0 && refused.length === 0) console.log(`no plays to report for ${days.join(', ') || 'any day'}`);
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
