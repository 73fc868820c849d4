import t from 'tap';
import { Registry } from 'prom-client';
import { pino } from 'pino';
import { BatchConsumer, PlayProducer } from '@playlog/kafka';
import { eventually, freshTopic, stack, uniqueName } from '@playlog/testing';
import { waitForLoader } from '../src/gate.js';

const log = pino({ level: 'silent' });

t.test('the gate refuses while the loader lags and opens once it has committed to the end', async (t) => {
  const topic = await freshTopic(t, 2);
  const group = uniqueName('gate-loader');
  t.match(await waitForLoader(stack.brokers, topic, group, 0), { complete: true }, 'empty topic: nothing to wait for');

  const producer = new PlayProducer({ brokers: stack.brokers, clientId: 'gate-test', log, registry: new Registry() });
  await producer.connect();
  t.teardown(() => producer.close());
  await producer.send(
    topic,
    Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, value: Buffer.from(`m${i}`) })),
  );

  const lagging = await waitForLoader(stack.brokers, topic, group, 500, 100);
  t.same(lagging, { complete: false, behind: 5 }, 'five messages not yet committed by the loader group');

  const consumer = new BatchConsumer({ brokers: stack.brokers, groupId: group, topic, clientId: 'gate-test', log });
  await consumer.connect();
  t.teardown(() => consumer.close());
  const got: { topic: string; partition: number; offset: number }[] = [];
  await eventually(async () => {
    got.push(...(await consumer.nextBatch(10, 200)));
    return got.length === 5;
  });
  const gateRun = waitForLoader(stack.brokers, topic, group, 20_000, 100); // started before the commit
  const next = new Map<number, number>();
  for (const m of got) next.set(m.partition, Math.max(next.get(m.partition) ?? 0, m.offset + 1));
  consumer.commit([...next].map(([partition, offset]) => ({ topic, partition, offset })));
  t.match(await gateRun, { complete: true }, 'opens once the loader has committed');
});
