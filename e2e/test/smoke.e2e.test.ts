import t from 'tap';
import {
  countRows,
  databaseAs,
  eventually,
  freshDatabase,
  freshKeyFeed,
  freshTopic,
  run,
  stack,
  startApp,
  testName,
} from '@playlog/testing';

/** npm run smoke against the real ingest and loader: what it refuses, what it confirms. */
const smoke = (args: string[], key?: string) => run('node', ['tools/smoke/dist/main.js', ...args], key ? { PLAYLOG_SMOKE_KEY: key } : {});

t.test('the smoke test sends only with a smoke key, and confirms the play reached Postgres', async (t) => {
  const { db, url } = await freshDatabase(t);
  const feed = await freshKeyFeed(t, db);
  const env = { KAFKA_BROKERS: stack.brokers, KAFKA_TOPIC: await freshTopic(t, 1), KAFKA_KEYS_TOPIC: feed.topic, LOG_LEVEL: 'warn' };
  const ingest = await startApp(t, 'ingest', env);
  const loader = await startApp(t, 'loader', {
    ...env,
    DATABASE_URL: url,
    KAFKA_GROUP_ID: testName('group'),
    LOADER_BATCH_WAIT_MS: '100',
  });
  const real = await feed.create('acme', 'android');
  const smokeKey = await feed.create('acme', 'smoke');
  for (const key of [real, smokeKey]) {
    await eventually(
      async () => (await fetch(`${ingest.base}/v1/key`, { headers: { authorization: `Bearer ${key}` } })).ok,
      30_000,
      'ingest has read the key from the feed',
    );
  }
  const plays = () => countRows(db, 'plays');
  // What an operator passes: a role that may read plays (the reporter's), over TLS with its certificate.
  const reader = databaseAs(url, 'reporter');

  const refused = await smoke(['--url', ingest.base, '--database-url', reader], real);
  t.equal(refused.code, 1, 'a key whose plays are real: fails');
  t.match(refused.stdout, /FAIL  ingest GET \/v1\/key .*refusing to send: this key \(client acme, named "android"\) sends real plays/);
  t.match(refused.stdout, 'npm run keys -- create --client acme --name smoke', 'says how to get a smoke key');
  t.notMatch(refused.stdout, /POST \/v1\/play-logs/, 'nothing was sent');

  const full = await smoke(
    ['--url', ingest.base, '--metrics-url', ingest.metrics, '--loader-url', loader.base, '--database-url', reader],
    smokeKey,
  );
  t.equal(full.code, 0, full.stdout + full.stderr);
  t.match(full.stdout, /ok    Postgres: the loader stored the play, as synthetic: stored in [\d.]+ s/);
  t.match(full.stdout, /smoke: all 9 checks passed/);
  const stored = (await db.query('select synthetic, client from plays')).rows;
  t.same(stored, [{ synthetic: true, client: 'acme' }], 'one play, synthetic: never reported');

  const unconfirmed = await smoke(['--url', ingest.base], smokeKey);
  t.equal(unconfirmed.code, 0);
  t.match(unconfirmed.stdout, 'note  not confirmed that the play reached Postgres: pass --database-url');

  const running = await smoke(['--url', ingest.base, '--database-url', reader, '--store-timeout', '30'], smokeKey);
  await loader.proc.stop('SIGTERM');
  const stopped = await smoke(['--url', ingest.base, '--database-url', reader, '--store-timeout', '2'], smokeKey);
  t.equal(running.code, 0, 'with the loader running, stored');
  t.equal(stopped.code, 1, 'with the loader stopped: the play never arrives, and that fails');
  t.match(stopped.stdout, /not in Postgres after 2 s: is the loader running/);
  t.ok((await plays()) >= 2);

  t.equal((await smoke(['--help'])).code, 0, '--help');
  const bad = await smoke(['--url', ingest.base, '--timeout', 'soon'], smokeKey);
  t.equal(bad.code, 2, 'a bad flag value is a usage error');
  t.match(bad.stderr, '--timeout must be a positive number of seconds');
  t.equal((await smoke(['--nope'])).code, 2, 'an unknown flag too');
});
