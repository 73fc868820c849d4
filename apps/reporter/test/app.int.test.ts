// The reporter as main.ts runs it, in-process: runReporter with a config object and captured output,
// against the real database and broker (the CLI as a process is cli.int.test.ts).
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { createPool, playsWriter } from '@playlog/db';
import { databaseAs, freshDatabase, freshTopic, stack, type Teardown, testPlay, testProducer, testName } from '@playlog/testing';
import { runReporter, UsageError, type ReporterIo } from '../src/app.js';
import { loadReporterConfig } from '../src/config.js';
import { addDays, today } from '@playlog/schema';

const yesterday = addDays(today('UTC'), -1);

async function setup(t: Teardown) {
  const { url } = await freshDatabase(t);
  const topic = await freshTopic(t, 1);
  const pool = createPool(databaseAs(url, 'loader'), 1, 'test');
  t.teardown(() => pool.end());
  const dir = mkdtempSync(join(tmpdir(), 'playlog-app-'));
  const config = loadReporterConfig({
    DATABASE_URL: url,
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: testName('group'),
    REPORT_DIR: dir,
    CLOCK_SKEW_SECONDS: '0',
  });
  const lines: { out: string[]; err: string[] } = { out: [], err: [] };
  const io: ReporterIo = { out: (l) => lines.out.push(l), err: (l) => lines.err.push(l) };
  return { config, dir, topic, lines, io, writer: playsWriter(pool) };
}

const request = { command: 'run', waitSeconds: 2, allowIncomplete: false };

t.test('run --date issues the day from a config object, and says so on its output', async (t) => {
  const s = await setup(t);
  await s.writer.write([1, 2, 3].map((i) => testPlay('app', i, `${yesterday}T0${i}:00:00Z`)));
  const code = await runReporter(s.config, { ...request, date: yesterday }, s.io);
  t.equal(code, 0, s.lines.err.join('\n'));
  t.match(s.lines.out.join('\n'), `issued app ${yesterday} v1 (final, 3 plays)`);
  const daily = readFileSync(join(s.dir, 'app', yesterday, 'v1', 'daily-usage.csv'), 'utf8')
    .trim()
    .split('\n');
  t.equal(daily.length, 4, 'a header and one row per track');
  for (const row of daily.slice(1)) t.match(row, new RegExp(`^${yesterday},app,subscription,GB,\\d,\\d,online,1,1,1,40$`), row);
  t.ok(existsSync(join(s.dir, 'app', yesterday, 'v1', 'manifest.json')));
});

t.test('a day that has not closed is a usage error, before any work', async (t) => {
  const s = await setup(t);
  await t.rejects(runReporter(s.config, { ...request, date: today('UTC') }, s.io), { name: 'UsageError', message: /has not closed yet/ });
  await t.rejects(runReporter(s.config, { ...request, command: 'nope' }, s.io), new UsageError('unknown command nope'));
  t.same(s.lines.out, [], 'nothing done');
});

t.test('plays acknowledged but not loaded: exit 3, or a provisional version when allowed', async (t) => {
  const s = await setup(t);
  await s.writer.write([testPlay('app', 1, `${yesterday}T01:00:00Z`)]);
  await (await testProducer(t)).send(s.topic, [{ key: 'k', value: Buffer.from('waiting on the topic') }]);
  t.equal(await runReporter(s.config, { ...request, date: yesterday, waitSeconds: 1 }, s.io), 3);
  t.match(s.lines.err.join('\n'), 'the loader has not caught up');
  t.equal(await runReporter(s.config, { ...request, date: yesterday, waitSeconds: 1, allowIncomplete: true }, s.io), 0);
  t.match(s.lines.out.join('\n'), `issued app ${yesterday} v1 (provisional, 1 plays)`);
});
