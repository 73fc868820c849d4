import t from 'tap';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { createPool, gateMarks, playsWriter, type PlaysWriter } from '@playlog/db';
import { BatchConsumer, groupProgress, DurableProducer } from '@playlog/kafka';
import { decodePlay, encodePlay, encodePlays, gateMarker, normalizePlay, type Play } from '@playlog/schema';
import {
  type Teardown,
  countRows,
  databaseAs,
  freshDatabase,
  freshTopic,
  readToEnd,
  stack,
  testProducer,
  eventually,
  kafkaAs,
  stackGateSecret,
  testName,
} from '@playlog/testing';
import { deadLetters, type DeadLetters } from '../src/dead-letter.js';
import { decoders } from '../src/decoder.js';
import { LoadLoop } from '../src/loop.js';
import { loaderMetrics } from '../src/metrics.js';
import { Throttle } from '../src/throttle.js';

const log = pino({ level: 'silent' });

function makePlays(n: number, tag: string): Play[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => {
    const r = normalizePlay(
      {
        logType: 'subscription',
        userId: `${tag}-u${i % 7}`,
        country: 'GB',
        trackId: 1000 + i,
        releaseId: 5,
        formatId: 26,
        playMode: 'online',
        dateTimePlayed: new Date(now - 60_000 - i * 1000).toISOString(),
        totalTimePlayed: i % 60,
      },
      { client: 'acme', apiKeyName: 'k', now, clockSkewMs: 0 },
    );
    if (!r.ok) throw new Error(r.error.message);
    return r.play;
  });
}

async function produceRaw(
  t: Teardown,
  topic: string,
  values: { key?: string; value: Buffer; partition?: number; headers?: { [key: string]: string }[] }[],
): Promise<void> {
  await (await testProducer(t)).send(topic, values);
}

/** A loader wired to the real broker and database, with a fresh topic, DLQ topic, group and database. */
async function fixture(
  t: Teardown,
  wrap: (w: PlaysWriter) => PlaysWriter = (w) => w,
  opts: { maxRowsPerSecond?: number; batchSize?: number; dlq?: (d: DeadLetters) => DeadLetters } = {},
) {
  const { url, db } = await freshDatabase(t);
  const topic = await freshTopic(t, 3);
  const dlqTopic = await freshTopic(t, 1, 'dlq');
  const groupId = testName('group');
  // As the loader's principal and role: what the loader may do is all these tests use.
  const pool = createPool(databaseAs(url, 'loader'), 2, 'test-loader');
  const kafka = kafkaAs(stack.brokers, 'loader');
  const consumer = new BatchConsumer({ cluster: kafka, groupId, topic, clientId: 'test-loader', log });
  const dlqProducer = new DurableProducer({ cluster: kafka, clientId: 'test-dlq', log, registry: new Registry() });
  await Promise.all([consumer.connect(), dlqProducer.connect()]);
  const metrics = loaderMetrics(new Registry());
  // As production runs it: batches decoded on a worker thread.
  const decoder = decoders(1, (err) => {
    throw err; // a worker that fails in a test fails the run
  });
  const loop = new LoadLoop(
    consumer,
    wrap(playsWriter(pool)),
    (opts.dlq ?? ((d) => d))(deadLetters(dlqProducer, dlqTopic)),
    gateMarks(pool),
    new Throttle(opts.maxRowsPerSecond ?? 0, 60_000),
    metrics,
    log,
    {
      batchSize: opts.batchSize ?? 500,
      batchWaitMs: 200,
      writeConcurrency: 2,
      gateSecret: stackGateSecret(),
      clockSkewMs: 300_000,
      decoder,
    },
  );
  t.teardown(async () => {
    await loop.stop();
    await decoder.close();
    await consumer.close();
    await dlqProducer.close();
    await pool.end();
  });
  const rows = () => countRows(db, 'plays');
  const committed = async () =>
    (await groupProgress(stack.kafka, topic, groupId)).partitions.reduce((s, p) => s + Math.max(0, p.committed), 0);
  return { db, topic, dlqTopic, groupId, loop, rows, committed, metrics };
}

/**
 * An outage of `n` calls: each of the first `n` calls of `enter` throws `fault()`; later calls wait for
 * `end()`, so the test looks at the state during the outage without racing the loop's next retry.
 */
function outage(n: number, fault: () => Error) {
  let failures = n;
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  return {
    left: () => failures,
    end,
    async enter(): Promise<void> {
      if (failures > 0) {
        failures--;
        throw fault();
      }
      await ended;
    },
  };
}

/** A writer whose first `n` writes fail as when the database connection is lost (57P01). */
function failingFirst(n: number) {
  const o = outage(n, () => Object.assign(new Error('connection terminated'), { code: '57P01' }));
  return {
    ...o,
    wrap: (w: PlaysWriter): PlaysWriter => ({
      write: async (plays) => {
        await o.enter();
        return w.write(plays);
      },
    }),
  };
}

/**
 * Messages as ingest writes them: `per` plays each (format 3), without a key; or, with `format2`, as
 * the previous ingest wrote them (objects carrying every field, playedAt included, keyed by the first
 * play id).
 */
function batches(
  plays: Play[],
  per: number,
  format2 = false,
): { key?: string; value: Buffer; weight: number; headers?: { 'play-count': string }[] }[] {
  const out = [];
  for (let i = 0; i < plays.length; i += per) {
    const chunk = plays.slice(i, i + per);
    if (format2) out.push({ key: chunk[0]!.playId, value: Buffer.from(JSON.stringify({ v: 2, plays: chunk })), weight: chunk.length });
    else out.push({ value: encodePlays(chunk), weight: chunk.length, headers: [{ 'play-count': String(chunk.length) }] });
  }
  return out;
}

t.test('the same plays delivered twice, in formats 3, 2 and 1 on one topic, are stored once; offsets committed to the end', async (t) => {
  const f = await fixture(t);
  const plays = makePlays(300, 'dup');
  // The topic during a deploy: the previous ingest's format-2 messages, then the new one's format 3.
  await produceRaw(t, f.topic, batches(plays.slice(100, 200), 50, true)); // 2 messages
  await produceRaw(t, f.topic, batches(plays, 40)); // 8 messages, as ingest writes requests
  // A client retry of some of them through the other route (one play per message), and a re-delivery
  // of a message in the oldest one-play format.
  await produceRaw(t, f.topic, batches(plays.slice(0, 50), 1));
  await produceRaw(t, f.topic, [{ key: plays[299]!.playId, value: encodePlay(plays[299]!) }]);
  f.loop.start();
  await eventually(async () => (await f.committed()) === 2 + 8 + 50 + 1, 30_000, 'offsets committed');
  t.equal(await f.rows(), 300, 'one row per play');
  const ids = (await f.db.query<{ play_id: string }>('select play_id from plays')).rows;
  t.same(new Set(ids.map((r) => r.play_id)), new Set(plays.map((p) => p.playId)), 'the play ids ingest computed, whatever the format');
  const played = (
    await f.db.query<{ play_id: string; at: string }>(
      `select play_id, to_char(played_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as at from plays`,
    )
  ).rows;
  const byId = new Map(plays.map((p) => [p.playId, p.playedAt]));
  t.ok(
    played.every((r: { play_id: string; at: string }) => byId.get(r.play_id) === r.at),
    'played_at as ingest computed it',
  );
  t.equal((await f.metrics.rows.get()).values.find((v) => v.labels.outcome === 'duplicate')?.value, 151, 'duplicates counted');
});

t.test('one bad play inside a many-play message is dead-lettered alone; its neighbours are loaded', async (t) => {
  const f = await fixture(t);
  const plays = makePlays(20, 'inner');
  const bad = { ...plays[7]!, country: 'gb', trackId: -1 };
  const value = Buffer.from(JSON.stringify({ v: 2, plays: [...plays.slice(0, 7), bad, ...plays.slice(8)] }));
  await produceRaw(t, f.topic, [{ key: plays[0]!.playId, value }]);
  f.loop.start();
  await eventually(async () => (await f.committed()) === 1, 30_000, 'offset committed');
  t.equal(await f.rows(), 19, 'the other 19 plays are loaded');
  const [dead] = await readToEnd(f.dlqTopic);
  t.match(dead!.headers!.find((h) => 'dlq-reason' in h)!['dlq-reason']!.toString(), /^not a play: \/(country|trackId)/);
  t.same(JSON.parse(dead!.value!.toString()), bad, 'the refused play alone, not its whole message');
});

t.test('plays the database refuses are found by splitting the batch and dead-lettered alone', async (t) => {
  const f = await fixture(t);
  const plays = makePlays(200, 'refused');
  // Valid plays that only the database refuses: a constraint of this test's database (its admin's).
  const refused = [13, 150].map((i) => plays[i]!);
  await f.db.query('alter table plays add constraint test_refuses check (track_id not in (1013, 1150))');
  await produceRaw(t, f.topic, batches(plays, 100));
  f.loop.start();
  await eventually(async () => (await f.committed()) === 2, 30_000, 'offsets committed');
  t.equal(await f.rows(), 198, 'every other play is loaded');
  const dead = await readToEnd(f.dlqTopic);
  t.equal(dead.length, 2);
  t.equal((await f.metrics.dlq.get()).values.find((v) => v.labels.reason === 'unstorable')?.value, 2, 'counted as unstorable');
  t.same(
    dead.map((m) => decodePlay(m.value).playId).sort(),
    refused.map((p) => p.playId).sort(),
    'each refused play alone, as a one-play message',
  );
  t.same(dead.map((m) => m.key!.toString()).sort(), refused.map((p) => p.playId).sort(), 'keyed by its play id');
  for (const m of dead) t.match(m.headers!.find((h) => 'dlq-reason' in h)!['dlq-reason']!.toString(), /^db: /);
});

t.test('plays the schema refuses never reach the database: 1 000 NUL plays among 2 000 cost one write, not a bisection', async (t) => {
  let writes = 0;
  const f = await fixture(
    t,
    (w) => ({
      write: async (plays) => {
        writes++;
        return w.write(plays);
      },
    }),
    { batchSize: 5_000 },
  );
  const plays = makePlays(2_000, 'nul');
  // Written around ingest (an older ingest, a replay): every other play holds a NUL in its userId.
  const mixed = plays.map((p, i) => (i % 2 === 0 ? p : { ...p, userId: `${p.userId}\u0000` }));
  await produceRaw(t, f.topic, batches(mixed, 500));
  f.loop.start();
  await eventually(async () => (await f.committed()) === 4, 30_000, 'offsets committed');
  t.equal(await f.rows(), 1_000, 'the good half is loaded');
  t.equal(writes, 1, 'one database write for the batch');
  t.equal((await f.metrics.dbErrors.get()).values[0]!.value, 0, 'no write was refused by the database');
  const dead = await readToEnd(f.dlqTopic);
  t.equal(dead.length, 1_000, 'each refused play dead-lettered alone');
  t.match(dead[0]!.headers!.find((h) => 'dlq-reason' in h)!['dlq-reason']!.toString(), /^not a play: \/userId/);
});

t.test('a gate marker is recorded once everything before it on its partition is stored, and only then', async (t) => {
  const outage = failingFirst(2);
  const f = await fixture(t, outage.wrap);
  const run = '5f0c2a9e-1d3b-4c8a-9e7f-6a5b4c3d2e1f';
  const plays = makePlays(300, 'gate');
  await produceRaw(t, f.topic, [
    ...batches(plays, 100).map((m) => ({ ...m, partition: 1 })),
    { key: `gate:${run}`, value: gateMarker(run, 1, stackGateSecret()), partition: 1 },
  ]);
  f.loop.start();
  await eventually(() => outage.left() === 0, 20_000, 'two failed writes');
  t.same((await f.db.query('select * from gate_marks')).rows, [], 'no marker recorded while the plays before it are not stored');
  outage.end();
  const mark = await eventually(
    async () => (await f.db.query<{ partition: number }>('select partition from gate_marks where run_id = $1', [run])).rows[0],
    30_000,
    'marker recorded',
  );
  t.equal(mark.partition, 1);
  t.equal(await f.rows(), 300, 'every play before the marker is stored');
  t.same(
    (await f.metrics.rows.get()).values.find((v) => v.labels.outcome === 'dead_lettered')?.value,
    0,
    'the marker is not a dead letter',
  );
});

t.test('a poison message goes to the dead-letter topic with its reason; the rest of its batch is loaded', async (t) => {
  const f = await fixture(t);
  const plays = makePlays(10, 'poison');
  const msgs = plays.map((p) => ({ key: p.playId, value: encodePlay(p) }));
  msgs.splice(
    5,
    0,
    { key: 'bad-1', value: Buffer.from('{"not":"a play"') },
    { key: 'bad-2', value: Buffer.from(JSON.stringify({ v: 1, playId: 'x' })) },
  );
  await produceRaw(t, f.topic, msgs);
  f.loop.start();
  await eventually(async () => (await f.committed()) === 12, 30_000, 'offsets committed');
  t.equal(await f.rows(), 10, 'the good plays are loaded');
  const dead = await readToEnd(f.dlqTopic);
  t.equal(dead.length, 2);
  const dlq = (await f.metrics.dlq.get()).values;
  t.equal(dlq.find((v) => v.labels.reason === 'unparsable')?.value, 1, 'the broken JSON counted as unparsable');
  t.equal(dlq.find((v) => v.labels.reason === 'invalid')?.value, 1, 'the JSON that is not a play counted as invalid');
  const reasons = dead.map((m) => m.headers!.find((h) => 'dlq-reason' in h)!['dlq-reason']!.toString()).sort();
  t.match(reasons[0], /^not JSON/);
  t.match(reasons[1], /^not a play/);
  t.same(dead.map((m) => m.key!.toString()).sort(), ['bad-1', 'bad-2'], 'original keys kept');
});

t.test('a batch passes its size by less than one message, however the message sizes mix', async (t) => {
  const f = await fixture(t, (w) => w, { batchSize: 1_000 });
  const plays = makePlays(6_500, 'mix');
  // Single plays (7digital requests), then 500-play bulk chunks: a read sized for the single plays
  // would pull in many big messages at once.
  await produceRaw(t, f.topic, batches(plays.slice(0, 1_500), 1));
  await produceRaw(t, f.topic, batches(plays.slice(1_500), 500));
  f.loop.start();
  await eventually(async () => (await f.committed()) === 1_510, 60_000, 'offsets committed');
  t.equal(await f.rows(), 6_500);
  const hist = (await f.metrics.batchSize.get()).values;
  const total = hist.find((v) => v.metricName === 'playlog_loader_batch_size_count')!.value;
  const upTo2500 = hist.find((v) => v.metricName === 'playlog_loader_batch_size_bucket' && v.labels.le === 2_500)!.value;
  t.ok(total >= 5, `${total} batches (6 500 plays, at most 1 499 each)`);
  t.equal(upTo2500, total, 'no batch above 1 000 plays + one message (499)');
});

t.test('offsets are committed only after the database commit; a failing database keeps them', async (t) => {
  const outage = failingFirst(3);
  const f = await fixture(t, outage.wrap);
  const plays = makePlays(50, 'outage');
  await produceRaw(
    t,
    f.topic,
    plays.map((p) => ({ key: p.playId, value: encodePlay(p) })),
  );
  f.loop.start();
  await eventually(() => outage.left() === 0, 20_000, 'three failed attempts');
  t.equal(await f.committed(), 0, 'nothing committed while writes fail');
  t.equal(await f.rows(), 0);
  t.equal(f.loop.backingOffFrom, 'database', 'backing off from the database');
  outage.end();
  await eventually(async () => (await f.committed()) === 50, 30_000, 'committed after recovery');
  t.equal(await f.rows(), 50, 'all rows present once');
  t.equal(f.loop.backingOffFrom, undefined);
  t.equal((await f.metrics.dbErrors.get()).values[0]!.value, 3, 'three database failures counted');
  t.equal((await f.metrics.deadLetterErrors.get()).values[0]?.value ?? 0, 0, 'none counted against Kafka');
});

t.test('a dead-letter topic refusing writes is a Kafka failure, not a database one; offsets wait for it', async (t) => {
  const refusing = outage(2, () => new Error('Local: Unknown topic'));
  const f = await fixture(t, (w) => w, {
    dlq: (d) => ({
      send: async (letters) => {
        await refusing.enter();
        return d.send(letters);
      },
    }),
  });
  const plays = makePlays(20, 'dlqfail');
  // The unreadable message first: nothing on the partition may be committed before its dead letter is written.
  await produceRaw(t, f.topic, [
    { key: 'junk', value: Buffer.from('not json'), partition: 0 },
    ...plays.map((p) => ({ key: p.playId, value: encodePlay(p), partition: 0 })),
  ]);
  f.loop.start();
  await eventually(() => refusing.left() === 0, 20_000, 'two failed dead-letter writes');
  t.equal(f.loop.backingOffFrom, 'kafka', 'backing off from Kafka');
  t.equal(await f.committed(), 0, 'nothing committed while the dead letter is not written');
  refusing.end();
  await eventually(async () => (await f.committed()) === 21, 30_000, 'committed once the dead letter is written');
  t.equal(f.loop.backingOffFrom, undefined);
  t.equal(await f.rows(), 20);
  t.equal((await f.metrics.deadLetterErrors.get()).values[0]!.value, 2, 'two Kafka failures counted');
  const dlq = (await f.metrics.dlq.get()).values;
  t.equal(dlq.find((v) => v.labels.reason === 'unparsable')?.value, 1, 'the junk message counted as unparsable');
  t.equal((await f.metrics.dbErrors.get()).values[0]?.value ?? 0, 0, 'none counted against the database');
});

t.test('the rows/s ceiling holds: writes start no faster than the setting allows, and not much slower', async (t) => {
  const ceiling = 2_000;
  // When each write starts and how many rows it carries, taken where the loop calls the database.
  const starts: { at: number; rows: number }[] = [];
  const f = await fixture(
    t,
    (w) => ({
      write: async (plays) => {
        starts.push({ at: performance.now(), rows: 'body' in plays ? plays.count : plays.length });
        return w.write(plays);
      },
    }),
    { maxRowsPerSecond: ceiling, batchSize: 500 },
  );
  const plays = makePlays(6_000, 'rate');
  await produceRaw(
    t,
    f.topic,
    plays.map((p) => ({ key: p.playId, value: encodePlay(p) })),
  );
  f.loop.start();
  await eventually(async () => (await f.committed()) === plays.length, 60_000, 'all committed');
  // The ceiling spaces each write start by the rows before it: every row but the last write's had to
  // wait its turn. A busy machine can only make the rate lower, so the upper bound is the tight one.
  const paced = starts.slice(0, -1).reduce((s, w) => s + w.rows, 0);
  const rate = paced / ((starts.at(-1)!.at - starts[0]!.at) / 1000);
  t.ok(starts.length >= 6, `${starts.length} writes`);
  t.ok(rate <= ceiling * 1.02, `at most the ceiling: ${rate.toFixed(0)} rows/s against ${ceiling}`);
  t.ok(rate >= ceiling * 0.5, `not throttled far below it: ${rate.toFixed(0)} rows/s`);
  t.ok((await f.metrics.throttleSeconds.get()).values[0]!.value > 1, 'time spent waiting for the ceiling is measured');
  t.equal(await f.rows(), plays.length);
});
