import Kafka from 'node-rdkafka';
import { decodePlays, type Play } from '@playlog/schema';
import { stack } from '@playlog/testing';

/** Everything on the topic right now, read from the beginning by a throwaway consumer. */
export async function readTopic(
  topic: string,
  expected: number,
  timeoutMs = 20_000,
  weigh: (m: Kafka.Message) => number = () => 1,
): Promise<Kafka.Message[]> {
  const c = new Kafka.KafkaConsumer(
    { 'metadata.broker.list': stack.brokers, 'group.id': `reader-${Date.now()}-${Math.random()}`, 'enable.auto.commit': false },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  c.subscribe([topic]);
  c.setDefaultConsumeTimeout(200);
  const out: Kafka.Message[] = [];
  let weight = 0;
  const deadline = Date.now() + timeoutMs;
  try {
    while (weight < expected && Date.now() < deadline) {
      const got = await new Promise<Kafka.Message[]>((resolve, reject) => c.consume(1000, (err, m) => (err ? reject(err) : resolve(m))));
      out.push(...got);
      for (const m of got) weight += weigh(m);
    }
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
  return out;
}

/** The plays on the topic right now (every message decoded), waiting until there are `expected`. */
export async function readPlays(topic: string, expected: number, timeoutMs = 20_000): Promise<Play[]> {
  const msgs = await readTopic(topic, expected, timeoutMs, (m) => decodePlays(m.value).plays.length);
  return msgs.flatMap((m) => decodePlays(m.value).plays);
}
