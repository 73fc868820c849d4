import t from 'tap';
import { groupProgress } from '@playlog/kafka';
import { encodePlays, normalizePlay, type Play } from '@playlog/schema';
import {
  countRows,
  eventually,
  freePort,
  freshDatabase,
  freshTopic,
  LOADER_ENTRY,
  run,
  stack,
  startProcess,
  type Teardown,
  testName,
  testProducer,
} from '@playlog/testing';

/**
 * The loader process under faults, on the real broker and database: killed with SIGKILL mid-batch and
 * restarted, and Postgres stopped mid-load and started again. Afterwards every play is stored exactly
 * once and the group's offsets are at the end of the topic.
 */
const N = 30_000;
/** Plays per message, as ingest writes a bulk request's plays. */
const PER_MESSAGE = 100;
const MESSAGES = N / PER_MESSAGE;

function plays(tag: string): Play[] {
  const now = Date.now();
  return Array.from({ length: N }, (_, i) => {
    const r = normalizePlay(
      {
        logType: 'subscription',
        userId: `${tag}${i % 500}`,
        country: 'SE',
        trackId: i,
        releaseId: 1,
        formatId: 1,
        playMode: 'offline',
        dateTimePlayed: new Date(now - 1_000 - i).toISOString(),
        totalTimePlayed: i % 90,
      },
      { client: 'faults', apiKeyName: 'k', now, clockSkewMs: 0 },
    );
    if (!r.ok) throw new Error(r.error.message);
    return r.play;
  });
}

async function setup(t: Teardown, tag: string) {
  const { url, db } = await freshDatabase(t);
  const topic = await freshTopic(t, 3);
  const group = testName('group');
  const producer = await testProducer(t);
  const all = plays(tag);
  const chunks = Array.from({ length: MESSAGES }, (_, i) => all.slice(i * PER_MESSAGE, (i + 1) * PER_MESSAGE));
  await producer.send(
    topic,
    chunks.map((c) => ({ key: c[0]!.playId, value: encodePlays(c), weight: c.length })),
  );
  const env = {
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: group,
    KAFKA_KEYS_TOPIC: await freshTopic(t, 1, 'keys'), // the loader publishes this database's keys: not into the shared feed
    DATABASE_URL: url,
    LOADER_BATCH_SIZE: '1000',
    LOADER_BATCH_WAIT_MS: '100',
    LOG_LEVEL: 'warn',
  };
  const rows = () => countRows(db, 'plays');
  const committed = async () =>
    (await groupProgress(stack.kafka, topic, group)).partitions.reduce((s, p) => s + Math.max(0, p.committed), 0);
  const distinct = async () => (await db.query<{ n: number }>('select count(distinct play_id)::int as n from plays')).rows[0]!.n;
  return { db, env, rows, committed, distinct };
}

t.test('SIGKILL mid-batch, three times: all plays present once', async (t) => {
  const f = await setup(t, 'kill');
  let kills = 0;
  while (kills < 3) {
    const port = await freePort();
    const loader = startProcess(t, 'node', [LOADER_ENTRY], { ...f.env, LOADER_PORT: String(port) });
    const before = await f.rows();
    await eventually(async () => (await f.rows()) > before, 60_000, 'loading progressed');
    if ((await f.rows()) >= N) break;
    t.equal(await loader.stop('SIGKILL'), null, `killed (${kills + 1}) at ${await f.rows()} rows`);
    kills++;
  }
  const loader = startProcess(t, 'node', [LOADER_ENTRY], { ...f.env, LOADER_PORT: String(await freePort()) });
  await eventually(async () => (await f.committed()) === MESSAGES, 60_000, 'offsets at the end');
  t.equal(await f.rows(), N, 'every play stored');
  t.equal(await f.distinct(), N, 'none twice');
  t.equal(await loader.stop('SIGTERM'), 0);
});

t.test('Postgres stopped mid-load and started again: the loader backs off, keeps its offsets, recovers', async (t) => {
  const f = await setup(t, 'pg');
  const port = await freePort();
  // Paced at 2 000 rows/s, so the load (15 s) is still under way when Postgres stops, however fast this machine.
  const loader = startProcess(t, 'node', [LOADER_ENTRY], {
    ...f.env,
    LOADER_PORT: String(port),
    LOADER_MAX_ROWS_PER_SECOND: '2000',
  });
  t.teardown(() => run('bash', ['tools/stack/stack.sh', 'start-pg']));
  await eventually(async () => (await f.rows()) > 0, 60_000, 'loading started');
  t.equal((await run('bash', ['tools/stack/stack.sh', 'stop-pg'])).code, 0);
  await eventually(
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 503,
    20_000,
    'not ready while the database is down',
  );
  const committedWhileDown = await f.committed();
  await new Promise((r) => setTimeout(r, 2_000));
  t.equal(await f.committed(), committedWhileDown, 'no offsets committed while the database is down');
  t.equal((await fetch(`http://127.0.0.1:${port}/healthz`)).status, 200, 'alive while backing off');
  t.equal((await run('bash', ['tools/stack/stack.sh', 'start-pg'])).code, 0);
  await eventually(async () => (await f.committed()) === MESSAGES, 90_000, 'caught up after the outage');
  t.equal(await f.rows(), N);
  t.equal(await f.distinct(), N);
  t.equal(loader.child.exitCode, null, 'the loader never crashed');
  t.equal(await loader.stop('SIGTERM'), 0);
});
