import Kafka from 'node-rdkafka';
import { decodePlays, type Play } from '@playlog/schema';
import { topicRanges } from '@playlog/kafka';
import { stack } from '@playlog/testing';

/** The messages on the topic as they arrive, read from the beginning by a throwaway consumer, until their weight reaches `expected`. */
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

/**
 * Every play on the topic up to its end offsets as of the call, read partition by partition: no count
 * to guess and no time window, so "nothing else was written" is a fact, not a race with the broker.
 * Plays a 2xx response acknowledged are below those offsets (acks=all). Throws rather than return part.
 */
export async function readAllPlays(topic: string, timeoutMs = 30_000): Promise<Play[]> {
  const ranges = (await topicRanges(stack.brokers, topic)).filter((r) => r.high > r.low);
  if (ranges.length === 0) return [];
  const c = new Kafka.KafkaConsumer(
    { 'metadata.broker.list': stack.brokers, 'group.id': 'playlog-test-read', 'enable.auto.commit': false },
    {},
  );
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  const next = new Map(ranges.map((r) => [r.partition, r.low]));
  const out: Play[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    c.assign(ranges.map((r) => ({ topic, partition: r.partition, offset: r.low })));
    c.setDefaultConsumeTimeout(200);
    const done = () => ranges.every((r) => next.get(r.partition)! >= r.high);
    while (!done()) {
      if (Date.now() > deadline) throw new Error(`read ${out.length} plays of ${topic} but not to its end offsets within ${timeoutMs} ms`);
      const got = await new Promise<Kafka.Message[]>((resolve, reject) => c.consume(1000, (err, m) => (err ? reject(err) : resolve(m))));
      for (const m of got) {
        const r = ranges.find((x) => x.partition === m.partition);
        if (!r || m.offset >= r.high) continue; // written after the call: not part of "now"
        next.set(m.partition, m.offset + 1);
        out.push(...decodePlays(m.value).plays);
      }
    }
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
  return out;
}
