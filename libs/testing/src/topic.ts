import Kafka from 'node-rdkafka';
import { topicRanges } from '@playlog/kafka';
import { stack } from './index.js';

/**
 * Every message on `topic` up to its end offsets as of the call, read partition by partition by
 * assignment (no consumer group to join). No count to guess and no time window: what a producer had
 * acknowledged (acks=all) before the call is below those offsets, so "it is there" and "nothing else
 * was written" are facts, not races with the broker. Throws rather than return part.
 */
export async function readToEnd(topic: string, brokers = stack.brokers, timeoutMs = 30_000): Promise<Kafka.Message[]> {
  const ranges = (await topicRanges(brokers, topic)).filter((r) => r.high > r.low);
  if (ranges.length === 0) return [];
  const c = new Kafka.KafkaConsumer({ 'metadata.broker.list': brokers, 'group.id': 'playlog-test-read', 'enable.auto.commit': false }, {});
  await new Promise<void>((resolve, reject) => c.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
  const next = new Map(ranges.map((r) => [r.partition, r.low]));
  const out: Kafka.Message[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    c.assign(ranges.map((r) => ({ topic, partition: r.partition, offset: r.low })));
    c.setDefaultConsumeTimeout(200);
    while (!ranges.every((r) => next.get(r.partition)! >= r.high)) {
      if (Date.now() > deadline) throw new Error(`read ${out.length} messages of ${topic}, not to its end offsets, within ${timeoutMs} ms`);
      const got = await new Promise<Kafka.Message[]>((resolve, reject) => c.consume(1000, (err, m) => (err ? reject(err) : resolve(m))));
      for (const m of got) {
        const r = ranges.find((x) => x.partition === m.partition);
        if (!r || m.offset >= r.high) continue; // written after the call: not part of "now"
        next.set(m.partition, m.offset + 1);
        out.push(m);
      }
    }
  } finally {
    await new Promise<void>((resolve) => c.disconnect(() => resolve()));
  }
  return out;
}
