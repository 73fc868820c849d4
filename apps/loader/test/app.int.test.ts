// The loader as main.ts wires it, built in-process from a config object against the real broker and
// database: plays on its topic reach Postgres, the probes answer, the key feed is published, and stop()
// closes everything.
import Kafka from 'node-rdkafka';
import { pino } from 'pino';
import t from 'tap';
import { encodePlays } from '@playlog/schema';
import {
  countRows,
  createKey,
  eventually,
  freePort,
  freshDatabase,
  freshTopic,
  stack,
  testPlay,
  testProducer,
  uniqueName,
} from '@playlog/testing';
import { buildLoader } from '../src/app.js';
import { loadLoaderConfig } from '../src/config.js';

t.test('a loader built from a config loads its topic, serves its probes and stops cleanly', async (t) => {
  const { url, db } = await freshDatabase(t);
  const topic = await freshTopic(t, 2);
  const keysTopic = await freshTopic(t, 1);
  await createKey(db, 'acme', 'main');
  const config = loadLoaderConfig({
    KAFKA_BROKERS: stack.brokers,
    DATABASE_URL: url,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: uniqueName('loader-app'),
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

  // The key feed: the loader publishes the key it found in Postgres.
  const consumer = new Kafka.KafkaConsumer(
    { 'metadata.broker.list': stack.brokers, 'group.id': uniqueName('keys-r') },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((res, rej) => consumer.connect({}, (err) => (err ? rej(err) : res())));
  consumer.subscribe([keysTopic]);
  const got = await eventually(
    () =>
      new Promise<Kafka.Message[]>((res, rej) => consumer.consume(10, (err, m) => (err ? rej(err) : res(m)))).then((m) =>
        m.length ? m : undefined,
      ),
    20_000,
    'a key feed message',
  );
  consumer.disconnect();
  t.ok(got.length > 0, 'the key feed is published');

  await loader.stop();
  stopped = true;
  t.notOk(loader.probes.server.listening, 'the probe port is closed');
});
