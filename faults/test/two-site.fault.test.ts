import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { topicLeaders } from '@playlog/kafka';
import {
  eventually,
  freePort,
  freshCoreKeyFeed,
  freshDatabase,
  freshEdgeTopic,
  LOADER_ENTRY,
  type RunningProcess,
  startProcess,
  testName,
  twoSite,
} from '@playlog/testing';
import { edgeIngestEnv, startOracle, verdict } from './oracle.js';

/**
 * The two-site fault suite: ingest at the edge (3 brokers, replication factor 3, min.insync.replicas
 * 2), the loader at the core behind MirrorMaker, steady load from 8 clients, and in turn: the broker
 * leading most partitions SIGKILLed three times, a broker frozen (SIGSTOP) for 20 s, the link down for
 * 60 s, MirrorMaker SIGKILLed, PostgreSQL crashed twice (immediate stop). The oracle: every play a
 * client got a 2xx for is in Postgres exactly once.
 */
const CLIENT = 'twosite';
const step = async (...args: string[]) => {
  const r = await twoSite.stack(...args);
  if (r.code !== 0) throw new Error(`stack ${args.join(' ')} failed (${r.code}): ${r.stderr}${r.stdout}`);
};

t.test('two sites: every acknowledged play is stored exactly once, whatever fails', async (t) => {
  const { url, db } = await freshDatabase(t, twoSite.coreDatabaseUrl);
  const topics = await freshEdgeTopic(t);
  const feed = await freshCoreKeyFeed(t, db);
  const key = await feed.create(CLIENT);
  t.teardown(async () => {
    // Leave the stack whole for whoever comes next.
    for (const n of ['1', '2', '3']) await twoSite.stack('broker', 'resume', n);
    await twoSite.stack('up');
  });

  const ingestEnv = await edgeIngestEnv(twoSite.edgeBrokers, topics.edge, feed.edge);
  const loaderEnv = {
    KAFKA_BROKERS: twoSite.coreBrokers,
    KAFKA_TOPIC: topics.core,
    KAFKA_DLQ_TOPIC: `play-logs-dlq-t-${topics.core.slice('edge.play-logs-t-'.length)}`,
    KAFKA_KEYS_TOPIC: feed.topic,
    KAFKA_GROUP_ID: testName('group'),
    DATABASE_URL: url,
    LOADER_BATCH_SIZE: '2000',
    LOADER_BATCH_WAIT_MS: '200',
    LOG_LEVEL: 'error',
  };
  const ingest: RunningProcess = startProcess(t, 'node', ['apps/ingest/dist/main.js'], ingestEnv);
  const loader = startProcess(t, 'node', [LOADER_ENTRY], { ...loaderEnv, LOADER_PORT: String(await freePort()) });
  const base = `http://127.0.0.1:${ingestEnv.PORT}`;
  await eventually(async () => (await fetch(`${base}/readyz`)).ok, 60_000, 'ingest ready at the edge (replication checked, keys mirrored)');

  // --- the clients and the oracle
  const oracle = startOracle(base, key, CLIENT, { clients: 8, workers: 8, batch: 50 });
  const phase = oracle.phase;
  /** The edge broker that leads the most partitions of the test's topic now. */
  const busiestLeader = async () => {
    const leaders = await topicLeaders(twoSite.edge, topics.edge);
    const counts = new Map<number, number>();
    for (const l of leaders.values()) counts.set(l, (counts.get(l) ?? 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  };

  await phase('baseline load', () => sleep(5_000));
  for (let i = 1; i <= 3; i++) {
    await phase(`SIGKILL the broker leading most partitions (#${i}), restart after 10 s`, async () => {
      const n = String(await busiestLeader());
      await step('broker', 'kill', n);
      await sleep(10_000);
      await step('broker', 'start', n);
      await sleep(5_000);
    });
  }
  await phase('SIGSTOP a broker for 20 s, then SIGCONT', async () => {
    const n = String(await busiestLeader());
    await step('broker', 'pause', n);
    await sleep(20_000);
    await step('broker', 'resume', n);
    await sleep(5_000);
  });
  await phase('link down 60 s, then up', async () => {
    await step('link', 'down');
    await sleep(60_000);
    await step('link', 'up');
  });
  await phase('MirrorMaker SIGKILL, restarted after 5 s', async () => {
    await sleep(3_000);
    await step('link', 'kill');
    await sleep(5_000);
    await step('link', 'up');
  });
  for (let i = 1; i <= 2; i++) {
    await phase(`PostgreSQL crash (immediate stop) #${i}, restarted after 5 s`, async () => {
      await sleep(3_000);
      await step('pg', 'crash');
      await sleep(5_000);
      await step('pg', 'start');
      await sleep(3_000);
    });
  }
  await oracle.stop();

  // --- recovery, then the oracle's verdict: every acknowledged play crosses the link and is loaded.
  const present = async () => {
    const ids = new Set(
      (await db.query<{ play_id: string }>('select play_id from plays where client = $1', [CLIENT])).rows.map((r) => r.play_id),
    );
    return [...oracle.accepted].filter((id) => ids.has(id)).length;
  };
  await eventually(async () => (await present()) === oracle.accepted.size, 300_000, `every acknowledged play in Postgres`).catch(
    () => undefined,
  );
  const { lost, duplicated, table, otherServerErrors } = await verdict(oracle, db, CLIENT);
  t.comment(`\n${table}`);
  t.ok(oracle.accepted.size > 20_000, `load was real: ${oracle.accepted.size} plays acknowledged`);
  t.equal(lost, 0, 'no acknowledged play lost');
  t.equal(duplicated, 0, 'no play stored twice');
  t.notOk(otherServerErrors, 'no 5xx other than 503');
  t.equal(ingest.child.exitCode, null, 'ingest running at the end');
  t.equal(loader.child.exitCode, null, 'loader running at the end');
});
