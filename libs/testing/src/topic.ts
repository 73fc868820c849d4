import type Kafka from 'node-rdkafka';
import { pino } from 'pino';
import { TopicFollower } from '@playlog/kafka';
import { stack } from './stack.js';

/**
 * Every message on `topic` up to its end offsets as of the call, read as ingest reads its key feed
 * (TopicFollower: every partition assigned, no consumer group to join). No count to guess and no time
 * window: what a producer had acknowledged (acks=all) before the call is below those offsets, so "it
 * is there" and "nothing else was written" are facts, not races with the broker. Throws rather than
 * return part.
 */
export async function readToEnd(topic: string, cluster = stack.kafka, timeoutMs = 30_000): Promise<Kafka.Message[]> {
  const read: Kafka.Message[] = [];
  let upToEnd = 0;
  let caughtUp!: () => void;
  const done = new Promise<void>((resolve) => (caughtUp = resolve));
  const follower = new TopicFollower({
    cluster,
    topic,
    clientId: 'playlog-test-read',
    log: pino({ level: 'silent' }),
    onMessage: (m) => read.push(m),
    onCaughtUp: () => {
      upToEnd = read.length;
      caughtUp();
    },
  });
  follower.start();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const why = follower.state().problem ?? 'still reading';
      reject(new Error(`read ${read.length} messages of ${topic}, not to its end offsets, within ${timeoutMs} ms (${why})`));
    }, timeoutMs);
  });
  try {
    await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
    await follower.close();
  }
  return read.slice(0, upToEnd);
}
