import { performance } from 'node:perf_hooks';
import { preparePlays, type PreparedPlays } from '@playlog/db/prepare';
import { DecodeError, decodePlays, type DecodeFailure, type DecodeRules, type GateMarker, type Play } from '@playlog/schema';

/** Why an item of a batch goes to the dead letters, and which of the batch's messages it came in. */
export interface Refusal {
  /** Index of its message in the batch. */
  at: number;
  kind: DecodeFailure;
  reason: string;
  /** The refused item alone (an item of a many-play message); absent: the whole message is refused. */
  value?: Buffer;
}

/** What a batch of message values holds, ready for the writer. */
export interface DecodedBatch {
  /** The good plays as the writer takes them; absent when one of them has no binary form (see decodeFully). */
  prepared?: PreparedPlays;
  plays: number;
  refused: Refusal[];
  /** Gate markers met (not yet authenticated: that needs the gate secret, which stays on the loop's thread). */
  gates: { at: number; marker: GateMarker }[];
  /** Time spent decoding and preparing, in seconds. */
  seconds: number;
}

/**
 * Decodes the values of a batch's messages (any format) and prepares its good plays for the writer: the
 * loader's CPU work, done by its decode worker (decoder.ts) or, without one, on the loop's thread.
 */
export function decodeBatch(values: readonly (Buffer | null)[], rules: DecodeRules): DecodedBatch {
  const from = performance.now();
  const { plays, refused, gates } = decodeFully(values, rules);
  let prepared: PreparedPlays | undefined;
  try {
    prepared = preparePlays(plays);
  } catch {
    // A play with no binary form: the loop decodes the batch again and lets the writer find it (split).
  }
  return { prepared, plays: plays.length, refused, gates, seconds: (performance.now() - from) / 1000 };
}

/**
 * Every good play of the batch, beside the refusals and markers; with `from`, also the index of the message
 * each play came in, pushed there (the loop's split path needs it, the worker's batches do not).
 */
export function decodeFully(
  values: readonly (Buffer | null)[],
  rules: DecodeRules,
  from?: number[],
): { plays: Play[]; refused: Refusal[]; gates: DecodedBatch['gates'] } {
  const plays: Play[] = [];
  const refused: Refusal[] = [];
  const gates: DecodedBatch['gates'] = [];
  values.forEach((value, at) => {
    try {
      const decoded = decodePlays(value, rules);
      if (decoded.gate) gates.push({ at, marker: decoded.gate });
      for (const play of decoded.plays) plays.push(play);
      if (from) for (let i = 0; i < decoded.plays.length; i++) from.push(at);
      for (const r of decoded.refused) refused.push({ at, kind: 'invalid', reason: r.reason, value: r.value });
    } catch (err) {
      refused.push({ at, kind: err instanceof DecodeError ? err.kind : 'invalid', reason: (err as Error).message });
    }
  });
  return { plays, refused, gates };
}
