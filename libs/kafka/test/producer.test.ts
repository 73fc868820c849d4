// DurableProducer's states without a broker (nothing listens on the port): before start, while it keeps
// trying to connect, and a send over its in-flight bound. The real broker: the integration tier.
import { createServer } from 'node:net';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { KafkaError, KAFKA_QUEUE_FULL, DurableProducer } from '../src/index.js';

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function producer(t: Test, maxInFlight = 100) {
  const registry = new Registry();
  const p = new DurableProducer({
    cluster: { brokers: `127.0.0.1:${await closedPort()}`, settings: {} },
    clientId: 'test',
    log: pino({ level: 'silent' }),
    registry,
    maxInFlight,
  });
  t.teardown(() => p.close());
  return { p, registry };
}

t.test('before start: not reachable, nothing in flight, no problem yet', async (t) => {
  const { p } = await producer(t);
  t.same(p.state(), { reachable: false, inFlight: 0, maxInFlight: 100, problem: undefined });
});

t.test('started without a broker: not reachable, and says why while it keeps retrying', async (t) => {
  const { p } = await producer(t);
  p.start();
  t.equal(p.state().problem, 'connecting', 'at once');
  const deadline = Date.now() + 15_000;
  while (p.state().problem === 'connecting' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  t.match(p.state(), { reachable: false, problem: /cannot connect to Kafka at 127\.0\.0\.1:\d+/ }, 'the reason of the last attempt');
});

t.test('a send over the in-flight bound is refused at once as queue-full, and counted', async (t) => {
  const { p, registry } = await producer(t, 100);
  const err = await p.send('topic', [{ key: 'k', value: Buffer.from('x'), weight: 101 }]).catch((e: unknown) => e);
  t.ok(err instanceof KafkaError, 'a KafkaError');
  t.equal((err as KafkaError).code, KAFKA_QUEUE_FULL);
  t.match(await registry.metrics(), /^playlog_kafka_delivery_failures_total\{reason="queue_full"\} 1$/m);
  t.equal(p.state().inFlight, 0, 'nothing counted in flight');
  await t.resolves(p.send('topic', []), 'an empty send resolves without the broker');
});
