import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createPool, playsWriter } from '@playlog/db';
import { PlayProducer } from '@playlog/kafka';
import { normalizePlay, type Play } from '@playlog/schema';
import { freshDatabase, freshTopic, run, stack, uniqueName, type Teardown } from '@playlog/testing';
import { addDays, today } from '../src/days.js';

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
  const { url } = await freshDatabase(t);
  const topic = await freshTopic(t, 1);
  const pool = createPool(url, 1, 'test');
  t.teardown(() => pool.end());
  const dir = mkdtempSync(join(tmpdir(), 'playlog-cli-'));
  const env = {
    DATABASE_URL: url,
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: uniqueName('cli-loader'),
    REPORT_DIR: dir,
  };
  return { env, dir, topic, writer: playsWriter(pool) };
}

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

t.test('the gate: exit 3 while the loader lags; --allow-incomplete issues a provisional version', async (t) => {
  const s = await setup(t);
  await s.writer.write([play(d2, 9, 'x')]);
  const producer = new PlayProducer({
    brokers: stack.brokers,
    clientId: 'cli-test',
    log: pino({ level: 'silent' }),
    registry: new Registry(),
  });
  await producer.connect();
  await producer.send(s.topic, [{ key: 'k', value: Buffer.from('waiting on the topic') }]);
  await producer.close();

  const refused = await reporter(['run', '--date', d2, '--wait', '1'], s.env);
  t.equal(refused.code, 3);
  t.match(refused.stderr, /loader has not caught up: 1 message\(s\) received before this run are not loaded yet/);
  t.notOk(existsSync(join(s.dir, 'cli', d2)), 'nothing issued');

  const provisional = await reporter(['run', '--date', d2, '--wait', '1', '--allow-incomplete'], s.env);
  t.equal(provisional.code, 0, provisional.stderr);
  t.match(provisional.stdout, `issued cli ${d2} v1 (provisional, 1 plays)`);
  t.equal(JSON.parse(readFileSync(join(s.dir, 'cli', d2, 'v1', 'manifest.json'), 'utf8')).status, 'provisional');

  const badEnv = await reporter(['run'], { ...s.env, REPORT_TIMEZONE: 'Mars/Olympus' });
  t.equal(badEnv.code, 1);
  t.match(badEnv.stderr, 'REPORT_TIMEZONE: must be an IANA time zone name', 'a bad setting names its variable');
});
