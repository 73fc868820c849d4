import type { ConsumedMessage, OutgoingMessage, PlayProducer } from '@playlog/kafka';

export interface DeadLetter {
  message: ConsumedMessage;
  reason: string;
}

/**
 * Sends messages that cannot be parsed or stored to the dead-letter topic, unchanged, with their
 * reason and origin in headers, so an operator can inspect, fix and replay them. The partition is
 * never blocked by a bad message.
 */
export function deadLetters(producer: PlayProducer, topic: string) {
  return {
    async send(letters: DeadLetter[]): Promise<void> {
      await producer.send(
        topic,
        letters.map(({ message: m, reason }): OutgoingMessage => ({
          key: m.key ? m.key.toString() : `${m.topic}:${m.partition}:${m.offset}`,
          value: m.value ?? Buffer.alloc(0),
          headers: [
            { 'dlq-reason': reason.slice(0, 1_000) },
            { 'dlq-source': `${m.topic}/${m.partition}/${m.offset}` },
            { 'dlq-at': new Date().toISOString() },
          ],
        })),
      );
    },
  };
}

export type DeadLetters = ReturnType<typeof deadLetters>;
