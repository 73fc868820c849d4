import { Compile } from 'typebox/compile';
import { Play } from './play.js';

/** The Kafka message value: one normalised play as UTF-8 JSON. */
export function encodePlay(play: Play): Buffer {
  return Buffer.from(JSON.stringify(play), 'utf8');
}

const check = Compile(Play);

/**
 * Reads a message value back into a play. Throws an Error whose message says what is wrong; the loader
 * sends such messages to the dead-letter topic with that reason.
 */
export function decodePlay(value: Buffer | null | undefined): Play {
  if (!value || value.length === 0) throw new Error('empty message');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`);
  }
  if (!check.Check(parsed)) {
    const first = check.Errors(parsed)[0];
    throw new Error(`not a play: ${first ? `${first.instancePath || '/'} ${first.message}` : 'schema mismatch'}`);
  }
  return parsed;
}
