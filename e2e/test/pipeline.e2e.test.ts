import { readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { countRows, eventually, freshDatabase, freshTopic, run, stack, startApp, testName } from '@playlog/testing';

/**
 * The whole pipeline as separate processes, as in production: the built ingest, loader, keys CLI and
 * reporter, on the real broker and database. POST plays → loaded rows → report file with the right
 * figures; then SIGTERM drains both services and they exit 0.
 */
t.test('POST plays → Kafka → loader → Postgres → reporter CSV', async (t) => {
  const { url, db } = await freshDatabase(t);
  const topic = await freshTopic(t, 3);
  const group = testName('group');
  const reportDir = mkdtempSync(join(tmpdir(), 'playlog-e2e-'));
  const env = {
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: topic,
    DATABASE_URL: url,
    KAFKA_GROUP_ID: group,
    REPORT_DIR: reportDir,
    KAFKA_KEYS_TOPIC: await freshTopic(t, 1, 'keys'),
    CLOCK_SKEW_SECONDS: '0', // yesterday has closed from midnight on, whenever the test runs
    LOG_LEVEL: 'info', // request logs on: the key must still never appear
  };

  const created = await run('node', ['apps/ingest/dist/keys-cli.js', 'create', '--client', 'e2e', '--name', 'pipeline'], env);
  t.equal(created.code, 0, created.stderr);
  const key = created.stdout.trimEnd().split('\n').at(-1)!;
  t.match(key, /^plk_/, 'the key is the last line of stdout');

  const { proc: ingest, base } = await startApp(t, 'ingest', { ...env, LOG_REQUESTS: 'true' });
  const { proc: loader, metrics: loaderMetrics } = await startApp(t, 'loader', { ...env, LOADER_BATCH_WAIT_MS: '200' });

  // Yesterday (UTC), hand-placed: 3 distinct plays of track 7 (one sent twice), one of track 8.
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const at = (hh: string) => `${day}T${hh}:00:00.1234567Z`;
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const bulk = await fetch(`${base}/v1/play-logs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({
      plays: [
        {
          logType: 'subscription',
          userId: 'a',
          country: 'gb',
          trackId: 7,
          releaseId: 70,
          formatId: 26,
          playMode: 'online',
          dateTimePlayed: at('01'),
          totalTimePlayed: 31,
        },
        {
          logType: 'subscription',
          userId: 'b',
          country: 'GB',
          trackId: '7',
          releaseId: 70,
          formatId: 26,
          playMode: 'online',
          dateTimePlayed: at('02'),
          totalTimePlayed: '12',
        },
        {
          logType: 'subscription',
          userId: 'a',
          country: 'GB',
          trackId: 8,
          releaseId: 80,
          formatId: 26,
          playMode: 'online',
          dateTimePlayed: at('03'),
          totalTimePlayed: 200,
        },
      ],
    }),
  });
  t.equal(bulk.status, 202);
  const v12 = await fetch(`${base}/1.2/user/subscription/log?country=GB&userId=a&oauth_consumer_key=${key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      playLogItem: [
        { trackId: 7, releaseId: 70, formatId: 26, playMode: 'online', dateTimePlayed: at('01'), totalTimePlayed: 31 }, // the same play as above
        { trackId: 7, releaseId: 70, formatId: 26, playMode: 'online', dateTimePlayed: at('04'), totalTimePlayed: 0 },
      ],
    }),
  });
  t.same(await v12.json(), { status: 'ok', version: '1.2', playLogs: { count: 2 } });

  await eventually(async () => (await countRows(db, 'plays')) === 4, 30_000, 'rows loaded');
  // The bundled loader (startApp runs dist/bundle, as the image does) decoded them on its worker thread.
  const scraped = await (await fetch(`${loaderMetrics}/metrics`)).text();
  t.match(scraped, /^playlog_loader_decode_threads 1$/m, 'the decode worker is running');
  t.match(scraped, /^playlog_loader_decode_seconds_total (?!0$)[0-9.e-]+$/m, 'and decoded the batches');
  const report = await run('node', ['apps/reporter/dist/main.js', 'run', '--date', day, '--wait', '30'], env);
  t.equal(report.code, 0, report.stderr);
  t.match(report.stdout, `issued e2e ${day} v1 (final, 4 plays)`);
  const csv = readFileSync(join(reportDir, 'e2e', day, 'v1', 'daily-usage.csv'), 'utf8')
    .trimEnd()
    .split('\n');
  t.same(csv.slice(1), [`${day},e2e,subscription,GB,7,70,online,3,1,2,43`, `${day},e2e,subscription,GB,8,80,online,1,1,1,200`]);

  const rerun = await run('node', ['apps/reporter/dist/main.js', 'run', '--date', day, '--wait', '30'], env);
  t.match(rerun.stdout, `unchanged e2e ${day} v1`, 'a second run issues nothing new');

  t.equal(await ingest.stop('SIGTERM'), 0, 'ingest drains and exits 0 on SIGTERM');
  t.equal(await loader.stop('SIGTERM'), 0, 'loader drains and exits 0 on SIGTERM');
  t.match(ingest.output(), '"path":"/1.2/user/subscription/log"', 'requests were logged, by path only');
  t.notMatch(ingest.output() + loader.output(), key.slice(4), 'the key never appears in a log line');
});
