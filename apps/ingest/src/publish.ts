import { encodePlay, type Play } from '@playlog/schema';
import { KafkaError, KAFKA_QUEUE_FULL, type PlayProducer } from '@playlog/kafka';
import { Codes, HttpError } from './errors.js';

/**
 * Writes plays to Kafka and resolves only when the broker has durably taken all of them. The play id is
 * the message key (so a play always lands on the same partition) and a header, for downstream dedupe.
 * If any message fails, the whole request fails with 503: nothing is reported accepted, and the
 * client's retry is deduplicated by play id.
 */
export async function publishPlays(producer: PlayProducer, topic: string, plays: Play[], retryAfterSeconds: number): Promise<void> {
  const messages = plays.map((p) => ({ key: p.playId, value: encodePlay(p), headers: { 'play-id': p.playId, client: p.client } }));
  try {
    await producer.send(topic, messages);
  } catch (err) {
    const retry = { 'Retry-After': String(retryAfterSeconds) };
    if (err instanceof KafkaError && err.code === KAFKA_QUEUE_FULL) {
      throw new HttpError(503, Codes.overloaded, 'server is overloaded; nothing was accepted, retry later', retry);
    }
    throw new HttpError(503, Codes.kafkaUnavailable, 'Kafka did not confirm the write; nothing was accepted, retry later', retry);
  }
}
