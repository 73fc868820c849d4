import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { groupProgress } from '@playlog/kafka';
import {
  eventually,
  freePort,
  freshDatabase,
  freshKeyFeed,
  freshTopic,
  LOADER_ENTRY,
  run,
  type RunningProcess,
  stack,
  startProcess,
  testName,
} from '@playlog/testing';
import { startOracle, verdict } from './oracle.js';

/**
 * The fault suite: load through the real ingest and loader processes while the broker is stopped and
 * restarted, Postgres restarted, the loader SIGKILLed repeatedly, ingest SIGTERMed under load and
 * restarted, and ingest overloaded. An oracle records every play a client got a 2xx for; after
 * recovery each must be in Postgres exactly once. Prints a results table.
 */
const CLIENT = 'oracle';
const stackCmd = (cmd: string) => run('bash', ['tools/stack/stack.sh', cmd]);

t.test('every acknowledged play is stored exactly once, whatever fails', async (t) => {
  const { url, db } = await freshDatabase(t);
  const topic = await freshTopic(t, 3);
  const group = testName('group');
  const feed = await freshKeyFeed(t, db);
  const key = await feed.create(CLIENT);
  const ingestPort = await freePort();
  const metricsPort = await freePort();
  t.teardown(async () => {
    await stackCmd('start-kafka');
    await stackCmd('start-pg');
  });
  const env = {
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: group,
    KAFKA_KEYS_TOPIC: feed.topic,
    DATABASE_URL: url,
    LOG_LEVEL: 'error',
  };
  const startIngest = () =>
    startProcess(t, 'node', ['apps/ingest/dist/main.js'], {
      ...env,
      PORT: String(ingestPort),
      METRICS_PORT: String(metricsPort),
      KAFKA_DELIVERY_TIMEOUT_MS: '5000',
      CLIENT_RATE_LIMIT_PLAYS_PER_SECOND: '0',
      KAFKA_MAX_IN_FLIGHT: '20000',
    });
  const startLoader = async () =>
    startProcess(t, 'node', [LOADER_ENTRY], {
      ...env,
      LOADER_PORT: String(await freePort()),
      LOADER_BATCH_SIZE: '2000',
      LOADER_BATCH_WAIT_MS: '200',
    });
  let ingest: RunningProcess = startIngest();
  let loader = await startLoader();
  const base = `http://127.0.0.1:${ingestPort}`;
  await eventually(async () => (await fetch(`${base}/readyz`)).ok, 30_000, 'ingest ready');

  // --- the clients and the oracle
  const oracle = startOracle(base, key, CLIENT, { clients: 24, workers: 4, batch: 50 });
  const phase = oracle.phase;

  await phase('baseline load', () => sleep(3_000));
  await phase('broker stopped 5 s, restarted', async () => {
    t.equal((await stackCmd('stop-kafka')).code, 0);
    await sleep(5_000);
    t.equal((await stackCmd('start-kafka')).code, 0);
    await eventually(async () => (await fetch(`${base}/readyz`)).ok, 60_000, 'ingest ready after the broker restart');
  });
  await phase('Postgres stopped 4 s, restarted', async () => {
    t.equal((await stackCmd('stop-pg')).code, 0);
    await sleep(4_000);
    t.equal((await stackCmd('start-pg')).code, 0);
    await sleep(2_000);
  });
  await phase('loader SIGKILL ×3, restarted each time', async () => {
    for (let i = 0; i < 3; i++) {
      await sleep(1_500);
      await loader.stop('SIGKILL');
      loader = await startLoader();
    }
  });
  await phase('ingest SIGTERM under load, restarted', async () => {
    t.equal(await ingest.stop('SIGTERM'), 0, 'ingest drained and exited 0 under load');
    ingest = startIngest();
    await eventually(async () => (await fetch(`${base}/readyz`)).ok, 30_000, 'ingest ready again');
    await sleep(2_000);
  });
  await phase('overload: 24 clients × 1000-play batches', async () => {
    Object.assign(oracle.load, { workers: 24, batch: 1_000 });
    await sleep(8_000);
    Object.assign(oracle.load, { workers: 4, batch: 50 });
  });
  await oracle.stop();

  // --- recovery, then the oracle's verdict
  await eventually(
    async () => (await groupProgress(stack.kafka, topic, group)).partitions.every((p) => p.committed >= p.end),
    180_000,
    'loader caught up',
  );
  const { lost, duplicated, table, otherServerErrors } = await verdict(oracle, db, CLIENT);
  t.comment(`\n${table}`);
  t.ok(oracle.accepted.size > 10_000, `load was real: ${oracle.accepted.size} plays acknowledged`);
  t.equal(lost, 0, 'no acknowledged play lost');
  t.equal(duplicated, 0, 'no play stored twice');
  t.ok((oracle.status.get('503') ?? 0) > 0, 'the broker outage was answered with 503s');
  t.notOk(otherServerErrors, 'no 5xx other than 503');
  t.equal(ingest.child.exitCode, null, 'ingest running at the end');
  t.equal(loader.child.exitCode, null, 'loader running at the end');
});
