import t from 'tap';
import { createPool } from '@playlog/db';
import { databaseAs, freshDatabase, freshTopic, kafkaAs, stack, stackGateSecret, startApp, testName, testProducer } from '@playlog/testing';
import { waitForCompleteness, type GateOptions } from '../src/gate.js';

/**
 * The completeness gate with the real loader: markers in every partition that holds records, passed
 * by the loader once everything before them is stored.
 */
t.test('the gate waits for the loader to pass its markers, saying what it waits for', async (t) => {
  const { url, db } = await freshDatabase(t);
  const pool = createPool(databaseAs(url, 'reporter'), 2, 'test-gate');
  t.teardown(() => pool.end());
  const topic = await freshTopic(t, 3);
  const group = testName('group');
  const said: string[] = [];
  const reporter = kafkaAs(stack.brokers, 'reporter'); // the gate does what the reporter's principal may
  const options = (waitMs: number): GateOptions => ({
    ack: reporter,
    ackTopic: topic,
    loader: reporter,
    secret: stackGateSecret(),
    loaderTopic: topic,
    loaderGroup: group,
    waitMs,
    pollMs: 100,
    progressMs: 300,
    say: (line) => said.push(line),
  });

  t.same(await waitForCompleteness(pool, options(0)), { complete: true, waiting: [] }, 'an empty topic: nothing to wait for');

  // Two of three partitions hold messages; no loader runs.
  const producer = await testProducer(t);
  await producer.send(topic, [
    { key: 'a', value: Buffer.from('first'), partition: 0 },
    { key: 'b', value: Buffer.from('second'), partition: 2 },
  ]);
  const lagging = await waitForCompleteness(pool, options(5_000)); // room to write the markers on a busy machine
  t.same(lagging, { complete: false, waiting: [0, 2] }, 'partitions 0 and 2 wait; the empty one does not');
  t.match(
    said.join('\n'),
    new RegExp(
      `gate: waiting for partitions 0, 2 of ${topic} at .* to reach Postgres; loader group ${group} is \\d+ message\\(s\\) behind on ${topic}; \\d s left of --wait`,
    ),
  );

  // The loader, as it runs in production, passes the markers (the two messages themselves are not
  // plays: it dead-letters them, and they are behind the markers all the same).
  await startApp(t, 'loader', {
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: group,
    KAFKA_DLQ_TOPIC: await freshTopic(t, 1, 'dlq'),
    KAFKA_KEYS_TOPIC: await freshTopic(t, 1, 'keys'),
    DATABASE_URL: url,
    LOADER_BATCH_WAIT_MS: '100',
    LOG_LEVEL: 'warn',
  });
  const done = await waitForCompleteness(pool, options(30_000));
  t.same(done, { complete: true, waiting: [] }, 'complete once the loader has passed every marker');
  const marks = (await db.query<{ partition: number }>('select partition from gate_marks order by partition')).rows;
  t.same(
    marks.map((m) => m.partition),
    [0, 0, 2, 2],
    'two runs marked partitions 0 and 2; the first run (timed out) was passed later too',
  );
});

t.test('an unreachable acknowledging cluster: the gate says so and does not pass', async (t) => {
  const { url } = await freshDatabase(t);
  const pool = createPool(databaseAs(url, 'reporter'), 1, 'test-gate');
  t.teardown(() => pool.end());
  const said: string[] = [];
  const r = await waitForCompleteness(pool, {
    ack: { ...stack.kafka, brokers: '127.0.0.1:1' },
    secret: stackGateSecret(),
    ackTopic: 'play-logs',
    loader: stack.kafka,
    loaderTopic: 'play-logs',
    loaderGroup: 'x',
    waitMs: 12_000, // one try takes 5 s to give up: said, retried, then the deadline
    say: (line) => said.push(line),
  });
  t.equal(r.complete, false);
  t.match(r.problem, /cannot write the gate's markers to play-logs at 127\.0\.0\.1:1/);
  t.match(said.join('\n'), /gate: cannot reach play-logs at 127\.0\.0\.1:1 yet/);
});
