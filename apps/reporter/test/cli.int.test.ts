import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import t from 'tap';
import { createPool, playsWriter } from '@playlog/db';
import { addDays, normalizePlay, type Play, today } from '@playlog/schema';
import {
  clearOfMidnightUtc,
  databaseAs,
  freshDatabase,
  freshTopic,
  run,
  stack,
  type Teardown,
  testName,
  testProducer,
} from '@playlog/testing';

/** The reporter CLI as the CronJob runs it: exit codes, backfill, a plain run's restatements, the gate. */
const reporter = (args: string[], env: Record<string, string>) => run('node', ['apps/reporter/dist/main.js', ...args], env);

function play(day: string, hour: number, userId: string): Play {
  const r = normalizePlay(
    {
      logType: 'subscription',
      userId,
      country: 'NL',
      trackId: 3,
      releaseId: 4,
      formatId: 5,
      playMode: 'online',
      dateTimePlayed: `${day}T${String(hour).padStart(2, '0')}:15:00Z`,
      totalTimePlayed: 40,
    },
    { client: 'cli', apiKeyName: 'k', now: Date.now(), clockSkewMs: 0 },
  );
  if (!r.ok) throw new Error(r.error.message);
  return r.play;
}

async function setup(t: Teardown) {
  const { url, db } = await freshDatabase(t);
  const topic = await freshTopic(t, 1);
  const pool = createPool(databaseAs(url, 'loader'), 1, 'test');
  t.teardown(() => pool.end());
  const dir = mkdtempSync(join(tmpdir(), 'playlog-cli-'));
  const env = {
    DATABASE_URL: url,
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: testName('group'),
    REPORT_DIR: dir,
    // Yesterday has closed the moment today begins, even in the first minutes after midnight.
    CLOCK_SKEW_SECONDS: '0',
  };
  return { env, dir, topic, pool, db, writer: playsWriter(pool) };
}

/** A message on the topic that no loader reads: the gate waits for it. */
async function messageWaiting(t: Teardown, topic: string): Promise<void> {
  await (await testProducer(t)).send(topic, [{ key: 'k', value: Buffer.from('waiting on the topic') }]);
}

// The days below are fixed once, so the whole file (about a minute) must run inside one UTC day.
await clearOfMidnightUtc(180_000);
const yesterday = addDays(today('UTC'), -1);
const d3 = addDays(yesterday, -2);
const d2 = addDays(yesterday, -1);

t.test('backfill, then a plain run restates only the days whose plays changed', async (t) => {
  const s = await setup(t);
  await s.writer.write([play(d3, 1, 'a'), play(d3, 2, 'b'), play(yesterday, 3, 'a')]);

  const bad = await reporter(['backfill', '--from', yesterday, '--to', d3], s.env);
  t.equal(bad.code, 2, 'usage error');
  t.match(bad.stderr, '--from must not be after --to');

  const backfill = await reporter(['backfill', '--from', d3, '--to', yesterday, '--wait', '5'], s.env);
  t.equal(backfill.code, 0, backfill.stderr);
  t.match(backfill.stdout, `issued cli ${d3} v1 (final, 2 plays)`);
  t.match(backfill.stdout, `issued cli ${yesterday} v1 (final, 1 plays)`);
  t.notOk(existsSync(join(s.dir, 'cli', d2)), 'no report for a day without plays');

  await s.writer.write([play(d3, 5, 'late-offline-user')]); // a late play for an already-reported day
  const plain = await reporter(['run', '--wait', '5'], s.env);
  t.equal(plain.code, 0, plain.stderr);
  t.match(plain.stdout, `issued cli ${d3} v2 (final, 3 plays)`, 'the changed earlier day is restated');
  t.match(plain.stdout, `unchanged cli ${yesterday} v1`, 'yesterday unchanged');
  t.ok(existsSync(join(s.dir, 'cli', d3, 'v1', 'daily-usage.csv')), 'v1 kept');
  t.match(readFileSync(join(s.dir, 'cli', d3, 'v2', 'daily-usage.csv'), 'utf8'), `${d3},cli,subscription,NL,3,4,online,3,3,3,120`);
});

t.test('a plain run catches up: two missed nights, and a day whose first plays came after its night', async (t) => {
  const s = await setup(t);
  const d4 = addDays(yesterday, -3);
  await s.writer.write([play(d3, 1, 'a'), play(d2, 2, 'b'), play(d2, 3, 'c'), play(yesterday, 4, 'd')]);

  // No run happened on the nights after d3 and d2: one plain run issues all three days.
  const plain = await reporter(['run', '--wait', '5'], s.env);
  t.equal(plain.code, 0, plain.stderr);
  t.match(plain.stdout, `issued cli ${d3} v1 (final, 1 plays; caught up: no version had been issued)`);
  t.match(plain.stdout, `issued cli ${d2} v1 (final, 2 plays; caught up: no version had been issued)`);
  t.match(plain.stdout, `issued cli ${yesterday} v1 (final, 1 plays)`);
  t.notMatch(plain.stdout, `${yesterday} v1 (final, 1 plays; caught up`, 'yesterday is the night’s own day, not a catch-up');
  t.match(plain.stdout, /reporter: 3 issued \(client-days of \d{4}-\d{2}-\d{2} to \d{4}-\d{2}-\d{2}\)/, 'a summary line');
  for (const d of [d3, d2, yesterday]) t.ok(existsSync(join(s.dir, 'cli', d, 'v1', 'daily-usage.csv')), `${d} v1 written`);

  // Plays of d4 reach Postgres only now (an offline device synced late): its night is long past.
  await s.writer.write([play(d4, 6, 'offline-user')]);
  // And a late play of d3 restates it.
  await s.writer.write([play(d3, 7, 'late')]);
  const next = await reporter(['run', '--wait', '5'], s.env);
  t.equal(next.code, 0, next.stderr);
  t.match(next.stdout, `issued cli ${d4} v1 (final, 1 plays; caught up: no version had been issued)`);
  t.match(next.stdout, `issued cli ${d3} v2 (final, 2 plays)`, 'restatement still works');
  t.match(next.stdout, `unchanged cli ${d2} v1`);
  t.match(next.stdout, `unchanged cli ${yesterday} v1`);
  t.match(next.stdout, /reporter: 2 issued, 2 unchanged/);

  const again = await reporter(['run', '--wait', '5'], s.env);
  t.equal(again.code, 0, again.stderr);
  t.notMatch(again.stdout, /^issued /m, 'nothing left to issue');
});

t.test(
  'REPORT_COMPRESS=gzip: client-usage.csv.gz inflates to the plain file, is hashed as written, and restores byte for byte',
  async (t) => {
    const plain = await setup(t);
    const zipped = await setup(t);
    const plays = Array.from({ length: 500 }, (_, i) => play(d2, i % 24, `user-${i % 37}`));
    plays.push(play(d2, 5, '=HYPERLINK("x")'), play(d2, 6, 'with "quotes", commas'));
    await plain.writer.write(plays);
    await zipped.writer.write(plays);
    t.equal((await reporter(['run', '--date', d2, '--wait', '5'], plain.env)).code, 0);
    const gz = await reporter(['run', '--date', d2, '--wait', '5'], { ...zipped.env, REPORT_COMPRESS: 'gzip' });
    t.equal(gz.code, 0, gz.stderr);

    const v1 = join(zipped.dir, 'cli', d2, 'v1');
    t.same(readdirSync(v1).sort(), ['client-usage.csv.gz', 'daily-usage.csv', 'manifest.json']);
    const file = readFileSync(join(v1, 'client-usage.csv.gz'));
    const csv = readFileSync(join(plain.dir, 'cli', d2, 'v1', 'client-usage.csv'));
    t.ok(gunzipSync(file).equals(csv), 'inflates to the same bytes as the plain file');
    t.ok(file.length < csv.length / 3, `compressed: ${file.length} of ${csv.length} bytes`);
    const manifest = JSON.parse(readFileSync(join(v1, 'manifest.json'), 'utf8'));
    t.same(Object.keys(manifest.files).sort(), ['client-usage.csv.gz', 'daily-usage.csv'], 'the manifest names the file written');
    t.equal(manifest.files['client-usage.csv.gz'].sha256, createHash('sha256').update(file).digest('hex'), 'and hashes its bytes');
    t.equal(manifest.rows['client-usage.csv.gz'], 502);

    // Lost: written again from the plays, the same gzip bytes as issued.
    rmSync(join(v1, 'client-usage.csv.gz'));
    const restored = await reporter(['run', '--date', d2, '--wait', '5'], { ...zipped.env, REPORT_COMPRESS: 'gzip' });
    t.match(restored.stdout, `restored cli ${d2} v1`);
    t.same(readFileSync(join(v1, 'client-usage.csv.gz')), file, 'restored byte for byte');
    // A version keeps the form it was issued in, whatever the setting says now.
    const later = await reporter(['run', '--date', d2, '--wait', '5'], zipped.env);
    t.match(later.stdout, `unchanged cli ${d2} v1`);
    const bad = await reporter(['run', '--date', d2], { ...zipped.env, REPORT_COMPRESS: 'zip' });
    t.equal(bad.code, 1);
    t.match(bad.stderr, 'REPORT_COMPRESS');
  },
);

t.test('reporter segments renders closed hours ahead; the night’s run copies them', async (t) => {
  const s = await setup(t);
  await s.writer.write([play(yesterday, 1, 'a'), play(yesterday, 7, 'b'), play(yesterday, 7, 'c')]);
  const seg = await reporter(['segments'], s.env);
  t.equal(seg.code, 0, seg.stderr);
  t.match(
    seg.stdout,
    /^segments: 2 hours rendered \(3 plays\), 0 already current, 0 client-days skipped while being reported, in [\d.]+ s$/m,
  );
  t.match((await reporter(['segments'], s.env)).stdout, 'segments: 0 hours rendered (0 plays), 2 already current');
  const r = await reporter(['run', '--date', yesterday, '--wait', '5'], s.env);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, `issued cli ${yesterday} v1 (final, 3 plays; 2 of 24 hours from segments)`);
  t.notOk(existsSync(join(s.dir, '.segments', 'cli', yesterday)), 'the day’s segments are removed once it is reported');
  const bad = await reporter(['segments', '--date', yesterday], s.env);
  t.equal(bad.code, 2);
  t.match(bad.stderr, 'segments takes no options');
});

t.test('the gate: exit 3 while the loader lags; --allow-incomplete issues a provisional version', async (t) => {
  const s = await setup(t);
  await s.writer.write([play(d2, 9, 'x')]);
  await messageWaiting(t, s.topic);

  const refused = await reporter(['run', '--date', d2, '--wait', '1'], s.env);
  t.equal(refused.code, 3);
  t.match(
    refused.stderr,
    /loader has not caught up: plays acknowledged before this run on partition 0 of play-logs-t-\S+ \(at 127\.0\.0\.1:\d+\) are not all in Postgres yet/,
  );
  t.notOk(existsSync(join(s.dir, 'cli', d2)), 'nothing issued');

  const provisional = await reporter(['run', '--date', d2, '--wait', '1', '--allow-incomplete'], s.env);
  t.equal(provisional.code, 0, provisional.stderr);
  t.match(provisional.stdout, `issued cli ${d2} v1 (provisional, 1 plays)`);
  t.equal(JSON.parse(readFileSync(join(s.dir, 'cli', d2, 'v1', 'manifest.json'), 'utf8')).status, 'provisional');

  const badEnv = await reporter(['run'], { ...s.env, REPORT_TIMEZONE: 'Mars/Olympus' });
  t.equal(badEnv.code, 1);
  t.match(badEnv.stderr, 'REPORT_TIMEZONE: must be an IANA time zone name', 'a bad setting names its variable');
});

t.test('days that cannot be reported are usage errors (exit 2, saying why), and so are unknown flags', async (t) => {
  const s = await setup(t);
  const todayUtc = today('UTC');
  const cases: [string[], RegExp][] = [
    [['run', '--date', todayUtc], /has not closed yet in REPORT_TIMEZONE=UTC: it closes at .*CLOCK_SKEW_SECONDS=0/],
    [['run', '--date', addDays(todayUtc, 3)], /is in the future/],
    [['run', '--date', addDays(todayUtc, -62)], /outside the 61-day window/],
    [['backfill', '--from', addDays(todayUtc, -3), '--to', todayUtc], /has not closed yet/],
    [['run', '--date', '2026-02-30'], /--date must be a date YYYY-MM-DD/],
    [['run', '--dates', yesterday], /Unknown option '--dates'/],
    [['run', '--wait', 'soon'], /--wait must be a number of seconds/],
    [['report'], /unknown command report/],
    [[], /a command is required/],
  ];
  for (const [args, why] of cases) {
    const r = await reporter(args, s.env);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, why, `${args.join(' ')}: says why`);
  }
  t.notOk(existsSync(join(s.dir, 'cli')), 'nothing written');
  const help = await reporter(['--help'], { ...s.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
  t.equal(help.code, 0, '--help exits 0');
  t.match(help.stdout, /usage:/);
  t.equal(help.stderr, '', 'and does no work: no database is reached for it');
});

t.test('connections refused by the database: exit 1 saying why, instead of waiting on the ones it holds', async (t) => {
  const s = await setup(t);
  await s.writer.write([play(d2, 10, 'u1')]);
  // A database that takes 2 connections of non-superusers (the reporter's role is one): the report's main
  // connection and 3 per-play ones cannot all connect.
  const name = new URL(s.env.DATABASE_URL).pathname.slice(1);
  await s.db.query(`alter database ${name} connection limit 2`);
  const r = await reporter(['run', '--date', d2, '--wait', '5'], { ...s.env, REPORT_PER_PLAY_CONNECTIONS: '3' });
  t.equal(r.code, 1, 'exit 1');
  t.match(r.stderr, /too many connections/, 'says why');
  t.notOk(existsSync(join(s.dir, 'cli', d2)), 'nothing written');
});

t.test('an issued folder found missing or altered is written again, byte for byte as issued', async (t) => {
  const s = await setup(t);
  await s.writer.write([play(d2, 1, '=cmd|calc'), play(d2, 2, 'b')]);
  t.equal((await reporter(['run', '--date', d2, '--wait', '5'], s.env)).code, 0);
  const v1 = join(s.dir, 'cli', d2, 'v1');
  const original = Object.fromEntries(['daily-usage.csv', 'client-usage.csv', 'manifest.json'].map((f) => [f, readFileSync(join(v1, f))]));

  rmSync(v1, { recursive: true });
  const plain = await reporter(['run', '--wait', '5'], s.env);
  t.equal(plain.code, 0, plain.stderr);
  t.match(
    plain.stdout,
    `restored cli ${d2} v1 (final, 2 plays; ${join(v1, 'manifest.json')} is missing)`,
    'a plain run notices a missing folder',
  );
  for (const [f, bytes] of Object.entries(original)) t.same(readFileSync(join(v1, f)), bytes, `${f} as issued`);

  // The same size, one byte changed: only the hashes can tell. A run for the day checks them.
  const csv = join(v1, 'client-usage.csv');
  const altered = Buffer.from(original['client-usage.csv']!);
  altered[altered.length - 2] = altered[altered.length - 2] === 0x61 ? 0x62 : 0x61;
  writeFileSync(csv, altered);
  const dated = await reporter(['run', '--date', d2, '--wait', '5'], s.env);
  t.equal(dated.code, 0, dated.stderr);
  t.match(dated.stdout, `restored cli ${d2} v1 (final, 2 plays; ${csv} does not match its sha256 in the manifest)`);
  t.same(readFileSync(csv), original['client-usage.csv'], 'rewritten as issued');
  t.match((await reporter(['run', '--date', d2, '--wait', '5'], s.env)).stdout, `unchanged cli ${d2} v1`, 'then unchanged again');
  t.notOk(existsSync(join(s.dir, 'cli', d2, 'v2')), 'no new version for the same plays');
});

t.test('a client name that is not one never names a folder: refused, nothing written outside REPORT_DIR', async (t) => {
  const s = await setup(t);
  const outside = join(s.dir, '..', `escaped-${Date.now()}`);
  await s.writer.write([play(d2, 1, 'a'), { ...play(d2, 2, 'b'), client: `../${basename(outside)}` }]);
  const r = await reporter(['run', '--date', d2, '--wait', '5'], s.env);
  t.equal(r.code, 1, 'exit 1: a client was not reported');
  t.match(r.stderr, /not reported: .*client "\.\.\/escaped-\d+" is not a client name, so it cannot name a report folder/);
  t.match(r.stdout, `issued cli ${d2} v1`, 'the valid client is reported');
  t.notOk(existsSync(outside), 'nothing outside REPORT_DIR');
});

t.test('a REPORT_DIR that cannot take files fails the run at once, before the gate, holding no transaction', async (t) => {
  const s = await setup(t);
  await s.writer.write([play(d2, 1, 'a')]);
  const file = join(s.dir, 'not-a-folder');
  writeFileSync(file, '');
  // A message waits on the topic: a run that reached the gate would wait --wait seconds first.
  await messageWaiting(t, s.topic);
  const started = Date.now();
  const r = await reporter(['run', '--date', d2, '--wait', '60'], { ...s.env, REPORT_DIR: join(file, 'reports') });
  t.equal(r.code, 1);
  t.match(r.stderr, `REPORT_DIR=${join(file, 'reports')} cannot take reports: ENOTDIR`);
  t.ok(Date.now() - started < 10_000, `failed in ${Date.now() - started} ms, without waiting for the gate`);
});

// A full disk is a 48 kB tmpfs, which needs root (CI and the dev machines run as root).
const mnt = mkdtempSync(join(tmpdir(), 'playlog-full-'));
const mounted = await run('mount', ['-t', 'tmpfs', '-o', 'size=48k', 'tmpfs', mnt]);
const fullDisk = { skip: mounted.code === 0 ? false : `cannot mount a small tmpfs here: ${mounted.stderr.trim()}` };
if (mounted.code === 0) t.teardown(() => run('umount', [mnt]));

t.test('a disk that fills mid-report: the run fails with the error and leaves no transaction open', fullDisk, async (t) => {
  const s = await setup(t);
  await s.writer.write(Array.from({ length: 2_000 }, (_, i) => play(d2, i % 24, `user-${i}-${'x'.repeat(40)}`)));
  const started = Date.now();
  const r = await reporter(['run', '--date', d2, '--wait', '5'], { ...s.env, REPORT_DIR: mnt });
  t.equal(r.code, 1);
  t.match(r.stderr, /ENOSPC/, 'says the disk is full');
  t.ok(Date.now() - started < 30_000, `failed in ${Date.now() - started} ms`);
  const open = await s.pool.query<{ n: number }>(
    "select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'playlog-reporter'",
  );
  t.equal(open.rows[0]!.n, 0, 'no reporter session left on the server');
  t.same(
    readdirSync(mnt).filter((f) => !f.startsWith('.')),
    ['cli'],
    'only the client folder',
  );
  t.same(readdirSync(join(mnt, 'cli', d2)), [], 'no version and no temporary folder left');
});
