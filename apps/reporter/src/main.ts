import { commandLine, ConfigError } from '@playlog/config';
import { isDay, LIMITS } from '@playlog/schema';
import { runReporter, UsageError } from './app.js';
import { loadReporterConfig } from './config.js';

const USAGE = `usage:
  npm run reporter -- run [--date YYYY-MM-DD] [--wait SECONDS] [--allow-incomplete]
      Reports one day. Without --date (the nightly job): every closed day of the last ${LIMITS.windowDays} days in
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
  within the ${LIMITS.windowDays}-day window. An issued folder found missing or altered is written again as issued.
exit codes: 0 done, 1 error, 2 usage, 3 plays acknowledged before the run were not all loaded in time`;

const OPTIONS = {
  date: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  wait: { type: 'string', default: '300' },
  'allow-incomplete': { type: 'boolean', default: false },
} as const;

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
  return runReporter(config, {
    command,
    date: values.date,
    from: values.from,
    to: values.to,
    waitSeconds,
    allowIncomplete: values['allow-incomplete'],
  });
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
