// The loader as main.ts wires it, built in-process from a config object against the real broker and
// database: plays on its topic reach Postgres, the probes answer, the key feed is published, and stop()
// closes everything.
import { pino } from 'pino';
import t from 'tap';
import { secretFile } from '@playlog/config';
import { encodePlays, feedVerifyingKeys, readFeedRecord } from '@playlog/schema';
import {
  countRows,
  createKey,
  eventually,
  freePort,
  freshDatabase,
  freshTopic,
  readToEnd,
  stack,
  testName,
  testPlay,
  testProducer,
} from '@playlog/testing';
import { buildLoader } from '../src/app.js';
import { loadLoaderConfig } from '../src/config.js';

t.test('a loader built from a config loads its topic, serves its probes and stops cleanly', async (t) => {
  const { url, db } = await freshDatabase(t);
  const topic = await freshTopic(t, 2);
  const keysTopic = await freshTopic(t, 1, 'keys');
  await createKey(db, 'acme', 'main');
  const config = loadLoaderConfig({
    KAFKA_BROKERS: stack.brokers,
    DATABASE_URL: url,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: testName('group'),
    KAFKA_KEYS_TOPIC: keysTopic,
    LOADER_PORT: String(await freePort()),
    HOST: '127.0.0.1',
    LOADER_BATCH_WAIT_MS: '100',
  });
  t.equal(config.dlqTopic, `${topic}-dlq`, 'the dead-letter topic defaults from the plays topic');
  const loader = buildLoader(config, pino({ level: 'silent' }));
  let stopped = false;
  t.teardown(() => (stopped ? undefined : loader.stop()));
  await loader.start();

  const now = Date.now();
  const plays = Array.from({ length: 30 }, (_, i) => testPlay('acme', i, new Date(now - 60_000 - i * 1000).toISOString(), now));
  await (await testProducer(t)).send(topic, [{ key: plays[0]!.playId, value: encodePlays(plays), weight: plays.length }]);
  await eventually(async () => (await countRows(db, 'plays')) === 30 || undefined, 30_000, '30 plays stored');

  const ready = await loader.probes.inject({ method: 'GET', url: '/readyz' });
  t.same(ready.json(), { status: 'ready' });
  t.equal((await loader.probes.inject({ method: 'GET', url: '/healthz' })).statusCode, 200);
  const metrics = (await loader.probes.inject({ method: 'GET', url: '/metrics' })).body;
  t.match(metrics, /^playlog_loader_rows_total\{outcome="inserted"\} 30$/m, 'the loop counts into the registry the probes serve');

  // The key feed: the loader publishes the key it found in Postgres, in a snapshot ingest can verify.
  const verifiers = secretFile('KEY_FEED_PUBLIC_KEY_FILE', 'key-feed.pub', feedVerifyingKeys);
  const snapshots = await eventually(
    async () => {
      const records = await readToEnd(keysTopic);
      return records.length > 0 ? records.map((m) => readFeedRecord(m.key, m.value, verifiers, Date.now(), 0)) : undefined;
    },
    20_000,
    'a key feed record',
  );
  t.match(snapshots[0], { kind: 'snapshot', snapshot: { keys: [{ client: 'acme', name: 'main' }] } }, 'the key feed is published, signed');

  await loader.stop();
  stopped = true;
  t.notOk(loader.probes.server.listening, 'the probe port is closed');
});
