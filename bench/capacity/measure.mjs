// bench/capacity (issue 14): the per-play costs docs/capacity.md derives a 1-billion-plays-a-day
// deployment from, measured on the two-site local stack in one run:
//   ingest at the edge: plays/s and CPU-seconds per play (500-play bulk requests from tools/loadgen);
//   the edge's plays topic: bytes per play stored (one replica), which is what MirrorMaker fetches
//     across the link; the core's mirror: bytes per play;
//   MirrorMaker: plays/s and CPU-seconds per play while catching up after a link outage;
//   the loader at the core: plays/s and CPU-seconds per play; Postgres: bytes per play stored.
// Usage: bash bench/capacity/run.sh   (the two-site stack must be up: PLAYLOG_TOPOLOGY=two-site npm run stack -- up)
// Settings: BENCH_PLAYS (200 000).
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { kafkaClientConfig, secretFile } from '@playlog/config';
import { createPool, keysRepository, readKeySnapshot } from '@playlog/db';
import { deleteTopic, ensureTopic, groupProgress, DurableProducer, topicRanges } from '@playlog/kafka';
import { feedSigningKey, snapshotMessage } from '@playlog/schema';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import {
  cpuSeconds,
  freePort,
  freshDatabase,
  onCleanup,
  outDir,
  REPO,
  runMain,
  runSync,
  startProcess,
  uniqueName,
  waitHttp,
  yesterdayUtc,
} from '../lib/common.mjs';

const PLAYS = Number(process.env.BENCH_PLAYS ?? 200_000);
// The two sites, as the admin principal (mutual TLS; the local stack's credentials).
const EDGE = kafkaClientConfig('admin', { ...process.env, KAFKA_BROKERS: '127.0.0.1:29091,127.0.0.1:29092,127.0.0.1:29093' });
const CORE = kafkaClientConfig('admin', { ...process.env, KAFKA_BROKERS: '127.0.0.1:49092' });
const STACK = join(REPO, '.stack', 'two-site');
const stackCmd = (...args) => runSync('bash', ['tools/stack/stack.sh', ...args], { PLAYLOG_TOPOLOGY: 'two-site' });

/** Bytes of a topic's log segments under a broker data directory. */
function topicBytes(dataDir, topic) {
  let bytes = 0;
  for (const d of readdirSync(dataDir)) {
    if (!d.startsWith(`${topic}-`) || !/-\d+$/.test(d)) continue;
    for (const f of readdirSync(join(dataDir, d))) if (f.endsWith('.log')) bytes += statSync(join(dataDir, d, f)).size;
  }
  return bytes;
}

const recordsOn = async (brokers, topic) => (await topicRanges(brokers, topic)).reduce((s, r) => s + r.high - r.low, 0);

async function until(what, probe, timeoutMs = 600_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function main() {
  const out = outDir('capacity');
  const { url, adminUrl } = await freshDatabase('bench_capacity');
  const edgeTopic = uniqueName('play-logs-t-cap').replaceAll('_', '-');
  await ensureTopic(EDGE, edgeTopic, 6, {
    replicationFactor: 3,
    config: { 'min.insync.replicas': '2', 'unclean.leader.election.enable': 'false' },
  });
  onCleanup(() => deleteTopic(EDGE, edgeTopic).catch(() => undefined));
  onCleanup(() => deleteTopic(CORE, `edge.${edgeTopic}`).catch(() => undefined));
  const keysTopic = uniqueName('playlog-keys-t-cap').replaceAll('_', '-');
  await ensureTopic(CORE, keysTopic, 1, { config: { 'cleanup.policy': 'compact' } });
  onCleanup(() => deleteTopic(CORE, keysTopic).catch(() => undefined));
  onCleanup(() => deleteTopic(EDGE, `core.${keysTopic}`).catch(() => undefined));
  const db = createPool(adminUrl, 1, 'playlog-bench');
  const { key } = await keysRepository(db).create('capacity', 'bench');
  const producer = new DurableProducer({ cluster: CORE, clientId: 'bench', log: pino({ level: 'silent' }), registry: new Registry() });
  await producer.connect();
  const signingKey = secretFile('KEY_FEED_SIGNING_KEY_FILE', 'key-feed.key', ([pem]) => feedSigningKey(pem));
  await producer.send(keysTopic, [snapshotMessage(await readKeySnapshot(db), signingKey)]);
  await producer.close();
  await until(
    `the mirrors of ${edgeTopic} and ${keysTopic}`,
    async () =>
      (await topicRanges(CORE, `edge.${edgeTopic}`).then(
        () => true,
        () => false,
      )) &&
      (await topicRanges(EDGE, `core.${keysTopic}`).then(
        (r) => r[0]?.high > 0,
        () => false,
      )),
  );

  const port = await freePort();
  const ingest = startProcess('node', ['apps/ingest/dist/main.js'], {
    env: {
      KAFKA_BROKERS: EDGE.brokers,
      KAFKA_TOPIC: edgeTopic,
      KAFKA_KEYS_TOPIC: `core.${keysTopic}`,
      PORT: String(port),
      METRICS_PORT: String(await freePort()),
      CLIENT_RATE_LIMIT_PLAYS_PER_SECOND: '0',
      LOG_LEVEL: 'warn',
    },
    logFile: join(out, 'ingest.log'),
  });
  await waitHttp(`http://127.0.0.1:${port}/readyz`, 60_000, ingest);

  const mm2Pid = () => Number(runSync('cat', [join(STACK, 'mm2', 'mm2.pid')]).trim());
  const send = (seed) =>
    runSync('node', [
      'tools/loadgen/dist/main.js',
      '--url',
      `http://127.0.0.1:${port}`,
      '--key',
      key,
      '--plays',
      String(PLAYS),
      '--batch',
      '500',
      '--concurrency',
      '8',
      '--rate',
      '0',
      '--day',
      yesterdayUtc(),
      '--seed',
      String(seed),
    ]);

  // Round 1, the link up: ingest's and MirrorMaker's CPU per play while the plays come in.
  const ingestCpu0 = cpuSeconds(ingest.pid);
  const liveMm2 = mm2Pid();
  const mm2Cpu0 = cpuSeconds(liveMm2);
  const t0 = Date.now();
  send(14);
  const ingestSeconds = (Date.now() - t0) / 1000;
  const ingestCpu = cpuSeconds(ingest.pid) - ingestCpu0;
  const messages = await recordsOn(EDGE, edgeTopic);
  await until('MirrorMaker to copy round 1', async () => (await recordsOn(CORE, `edge.${edgeTopic}`).catch(() => 0)) >= messages);
  const mm2Cpu = cpuSeconds(liveMm2) - mm2Cpu0;
  const edgeBytes = [1, 2, 3].map((n) => topicBytes(join(STACK, 'edge', `broker${n}`, 'data'), edgeTopic)).reduce((a, b) => a + b, 0) / 3;
  const coreBytes = topicBytes(join(STACK, 'core', 'kafka', 'data'), `edge.${edgeTopic}`);

  // Round 2, the link down while the plays come in, then up: how fast MirrorMaker catches up.
  stackCmd('link', 'down');
  send(15);
  const messages2 = await recordsOn(EDGE, edgeTopic);
  stackCmd('link', 'up');
  const t1 = Date.now();
  await until(
    'MirrorMaker to catch up after the outage',
    async () => (await recordsOn(CORE, `edge.${edgeTopic}`).catch(() => 0)) >= messages2,
  );
  const catchUpSeconds = (Date.now() - t1) / 1000; // includes its restart (about 2 s)

  const group = uniqueName('playlog-loader-t-cap').replaceAll('_', '-');
  const loader = startProcess('node', ['apps/loader/dist/bundle/main.js'], {
    env: {
      KAFKA_BROKERS: CORE.brokers,
      KAFKA_TOPIC: `edge.${edgeTopic}`,
      KAFKA_GROUP_ID: group,
      KAFKA_DLQ_TOPIC: uniqueName('play-logs-dlq-t-cap').replaceAll('_', '-'),
      KAFKA_KEYS_TOPIC: keysTopic,
      DATABASE_URL: url,
      LOADER_PORT: String(await freePort()),
      LOG_LEVEL: 'warn',
    },
    logFile: join(out, 'loader.log'),
  });
  const t2 = Date.now();
  const c = new pg.Client({ connectionString: adminUrl });
  await c.connect();
  onCleanup(() => c.end());
  await until(
    'the loader to store every play',
    async () => Number((await c.query('select count(*) from plays')).rows[0].count) >= 2 * PLAYS,
  );
  const loaderSeconds = (Date.now() - t2) / 1000;
  const loaderCpu = cpuSeconds(loader.pid);
  await until('the loader to commit', async () =>
    (await groupProgress(CORE, `edge.${edgeTopic}`, group)).partitions.every((p) => p.committed >= p.end),
  );
  await c.query('vacuum analyze plays');
  const pgBytes = Number(
    (
      await c.query(
        `select sum(pg_total_relation_size(c.oid)) as bytes from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent where p.relname = 'plays'`,
      )
    ).rows[0].bytes,
  );
  const heapBytes = Number(
    (
      await c.query(
        `select sum(pg_relation_size(c.oid)) as bytes from pg_inherits i join pg_class c on c.oid = i.inhrelid join pg_class p on p.oid = i.inhparent where p.relname = 'plays'`,
      )
    ).rows[0].bytes,
  );
  await db.end();
  await ingest.stop();
  await loader.stop();

  const r = {
    plays: PLAYS,
    kafkaMessagesPerRound: messages,
    ingest: { playsPerSecond: Math.round(PLAYS / ingestSeconds), cpuMicrosPerPlay: +((ingestCpu / PLAYS) * 1e6).toFixed(2) },
    edgeBytesPerPlay: +(edgeBytes / PLAYS).toFixed(1),
    mirrorMaker: {
      liveCpuMicrosPerPlay: +((mm2Cpu / PLAYS) * 1e6).toFixed(2),
      catchUpPlaysPerSecondIncludingRestart: Math.round(PLAYS / catchUpSeconds),
    },
    coreBytesPerPlay: +(coreBytes / PLAYS).toFixed(1),
    loader: { playsPerSecond: Math.round((2 * PLAYS) / loaderSeconds), cpuMicrosPerPlay: +((loaderCpu / (2 * PLAYS)) * 1e6).toFixed(2) },
    postgres: { bytesPerPlay: Math.round(pgBytes / (2 * PLAYS)), heapBytesPerPlay: Math.round(heapBytes / (2 * PLAYS)) },
  };
  writeFileSync(join(out, 'results.json'), JSON.stringify(r, null, 2));
  console.log(JSON.stringify(r, null, 2));
  return 0;
}

runMain(main, 1_800);
