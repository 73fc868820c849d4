import { parseArgs } from 'node:util';
import { ConfigError } from '@playlog/config';
import { createPool } from '@playlog/db';
import { loadReporterConfig, type ReporterConfig } from './config.js';
import { addDays, dayRange, isDay, today } from './days.js';
import { waitForLoader } from './gate.js';
import { progressBar } from './progress.js';
import { issueDay, type Issued, type ReportStatus } from './report.js';
import { clientsForDay } from './usage.js';

const USAGE = `usage:
  npm run reporter -- run [--date YYYY-MM-DD] [--wait SECONDS] [--allow-incomplete]
      Reports one day (default: yesterday in REPORT_TIMEZONE, plus a new version of every earlier day
      in the last 61 days whose loaded plays changed since its last version).
  npm run reporter -- backfill --from YYYY-MM-DD --to YYYY-MM-DD [--wait SECONDS] [--allow-incomplete]
      Reports every day in the range.
  --wait SECONDS        how long to wait for the loader to catch up with the topic (default 300)
  --allow-incomplete    if it does not, issue a provisional version instead of failing
exit codes: 0 done, 1 error, 2 usage, 3 the loader did not catch up in time`;

class UsageError extends Error {}

const EXIT_INCOMPLETE = 3;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      date: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      wait: { type: 'string', default: '300' },
      'allow-incomplete': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const waitSeconds = Number(values.wait);
  if (!Number.isFinite(waitSeconds) || waitSeconds < 0) throw new UsageError('--wait must be a number of seconds');
  for (const [flag, v] of [
    ['--date', values.date],
    ['--from', values.from],
    ['--to', values.to],
  ] as const) {
    if (v !== undefined && !isDay(v)) throw new UsageError(`${flag} must be a date YYYY-MM-DD (got ${v})`);
  }
  const config = loadReporterConfig();

  let days: string[];
  let restate = false;
  if (command === 'run') {
    days = [values.date ?? addDays(today(config.timezone), -1)];
    restate = values.date === undefined;
  } else if (command === 'backfill') {
    if (!values.from || !values.to) throw new UsageError('backfill needs --from and --to');
    if (values.from > values.to) throw new UsageError('--from must not be after --to');
    days = dayRange(values.from, values.to);
  } else {
    throw new UsageError(`unknown command ${command}`);
  }

  const gate = await waitForLoader(config.kafkaBrokers, config.kafkaTopic, config.loaderGroupId, waitSeconds * 1000);
  let status: ReportStatus = 'final';
  if (!gate.complete) {
    const what = `the loader has not caught up: ${gate.behind} message(s) received before this run are not loaded yet (waited ${waitSeconds}s)`;
    if (!values['allow-incomplete']) {
      console.error(`reporter: ${what}. Run again later, or pass --allow-incomplete to issue a provisional report.`);
      return EXIT_INCOMPLETE;
    }
    console.error(`reporter: ${what}; issuing provisional reports`);
    status = 'provisional';
  }
  return report(config, days, restate, status);
}

async function report(config: ReporterConfig, days: string[], restate: boolean, status: ReportStatus): Promise<number> {
  // Two connections: a report's aggregates on one, its per-play file on the other, at the same time.
  const pool = createPool(config.databaseUrl, 2, 'playlog-reporter');
  const db = await pool.connect();
  const plays = await pool.connect();
  for (const c of [db, plays]) c.on('error', () => undefined); // a lost connection also fails the running query, which reports it
  try {
    if (restate) {
      // Earlier days already reported whose plays changed since (late, offline plays) get a new version.
      const since = addDays(days[0]!, -61);
      const r = await db.query<{ day: string }>('select distinct day from report_versions where day >= $1 and day < $2 order by day', [
        since,
        days[0],
      ]);
      days = [...r.rows.map((x) => x.day), ...days];
    }
    const bar = progressBar(days.length);
    const issued: Issued[] = [];
    for (const [i, day] of days.entries()) {
      bar.update(i, day);
      const clients = await clientsForDay(db, day, config.timezone);
      for (const client of clients) {
        const scope = { client, day, timezone: config.timezone, thresholdSeconds: config.royaltyThresholdSeconds };
        issued.push(await issueDay({ main: db, plays }, config.reportDir, scope, status));
      }
    }
    bar.done();
    for (const r of issued) {
      const verb = r.issued ? 'issued' : 'unchanged';
      console.log(`${verb} ${r.client} ${r.day} v${r.version} (${r.status}, ${r.plays} plays): ${r.path}`);
    }
    if (issued.length === 0) console.log(`no plays to report for ${days.join(', ')}`);
    return 0;
  } finally {
    db.release();
    plays.release();
    await pool.end();
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
