import Kafka from 'node-rdkafka';
import { stack } from '@playlog/testing';

/** Everything on the topic right now, read from the beginning by a throwaway consumer. */
export async function readTopic(topic: string, expected: number, timeoutMs = 20_000): Promise<Kafka.Message[]> {
  const c = new Kafka.KafkaConsumer(
    { 'metadata.broker.list': stack.brokers, 'group.id': `reader-${Date.now()}-${Math.random()}`, 'enable.auto.commit': false },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  c.subscribe([topic]);
  c.setDefaultConsumeTimeout(200);
  const out: Kafka.Message[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (out.length < expected && Date.now() < deadline) {
      const got = await new Promise<Kafka.Message[]>((resolve, reject) => c.consume(1000, (err, m) => (err ? reject(err) : resolve(m))));
      out.push(...got);
    }
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
  return out;
}
