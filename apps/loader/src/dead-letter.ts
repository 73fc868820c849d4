import type { ConsumedMessage, OutgoingMessage, DurableProducer } from '@playlog/kafka';

/** Why something was dead-lettered: unreadable bytes, not a play, or a play the database refused. */
export type DeadLetterKind = 'unparsable' | 'invalid' | 'unstorable';

export interface DeadLetter {
  /** Where it came from. */
  message: ConsumedMessage;
  kind: DeadLetterKind;
  reason: string;
  /** The refused item alone (one play of a many-play message); default: the whole message. */
  value?: Buffer;
  key?: string;
}

/**
 * Sends what cannot be parsed or stored to the dead-letter topic, with its reason and origin in
 * headers, so an operator can inspect, fix and replay it: an unreadable message unchanged, a refused
 * play of a readable one alone (as a one-play message). The partition is never blocked by bad data.
 */
export function deadLetters(producer: DurableProducer, topic: string) {
  return {
    async send(letters: DeadLetter[]): Promise<void> {
      await producer.send(
        topic,
        letters.map(({ message: m, reason, value, key }): OutgoingMessage => ({
          key: key ?? (m.key ? m.key.toString() : `${m.topic}:${m.partition}:${m.offset}`),
          value: value ?? m.value ?? Buffer.alloc(0),
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
