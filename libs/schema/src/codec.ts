import { Compile } from 'typebox/compile';
import { Play } from './play.js';

/**
 * Kafka message values. Format 2, what ingest writes: the normalised plays of one request (or one
 * chunk of it) as UTF-8 JSON `{"v":2,"plays":[Play, …]}`, so one produce and one delivery report cover
 * many plays. Format 1, one play as `{"v":1,…}`, is still read (older messages on the topic, replays
 * from the dead-letter topic).
 */
export function encodePlays(plays: Play[]): Buffer {
  return Buffer.from(JSON.stringify({ v: 2, plays }), 'utf8');
}

/** A format-1 value: one play. The dead-letter topic holds refused plays this way. */
export function encodePlay(play: Play): Buffer {
  return Buffer.from(JSON.stringify(play), 'utf8');
}

const check = Compile(Play);

export interface RefusedPlay {
  /** The refused item alone, as a format-1 value, for the dead-letter topic. */
  value: Buffer;
  reason: string;
}

export interface DecodedPlays {
  plays: Play[];
  /** Items of a format-2 message that are not plays; the message's other plays are still good. */
  refused: RefusedPlay[];
  /** The run id, when the message is a gate marker (see gateMarker): it holds no play. */
  gate?: string;
}

/**
 * A gate marker: the reporter writes one to every partition of the topic where plays are first
 * acknowledged (the edge's, in two sites) when a run starts. Kafka keeps order within a partition, and
 * MirrorMaker keeps partitions and their order, so once the loader has stored everything before the
 * marker of every partition, every play acknowledged before the run is in Postgres. The loader records
 * the markers it passes (libs/db gate marks); the reporter waits for all of them.
 */
export function gateMarker(run: string, at = new Date()): Buffer {
  return Buffer.from(JSON.stringify({ v: 'gate', run, at: at.toISOString() }), 'utf8');
}

function whyNotAPlay(item: unknown): string {
  const first = check.Errors(item)[0];
  return `not a play: ${first ? `${first.instancePath || '/'} ${first.message}` : 'schema mismatch'}`;
}

/**
 * Reads a message value of either format. Throws an Error saying what is wrong when the message as a
 * whole is unreadable (empty, not JSON, no known format); the loader dead-letters such a message with
 * that reason. One bad item in a format-2 message is returned in `refused` instead, beside the rest.
 */
export function decodePlays(value: Buffer | null | undefined): DecodedPlays {
  if (!value || value.length === 0) throw new Error('empty message');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    throw new Error(`not JSON: ${(err as Error).message}`);
  }
  const v = typeof parsed === 'object' && parsed !== null ? (parsed as { v?: unknown }).v : undefined;
  if (v === 'gate') {
    const run = (parsed as { run?: unknown }).run;
    if (typeof run !== 'string' || !/^[0-9a-f-]{36}$/.test(run)) throw new Error('not a gate marker: /run must be a uuid');
    return { plays: [], refused: [], gate: run };
  }
  if (v === 2) {
    const items = (parsed as { plays?: unknown }).plays;
    if (!Array.isArray(items)) throw new Error('not a play batch: /plays must be an array');
    const out: DecodedPlays = { plays: [], refused: [] };
    for (const item of items) {
      if (check.Check(item)) out.plays.push(item);
      else out.refused.push({ value: Buffer.from(JSON.stringify(item) ?? 'null', 'utf8'), reason: whyNotAPlay(item) });
    }
    return out;
  }
  if (!check.Check(parsed)) throw new Error(whyNotAPlay(parsed));
  return { plays: [parsed], refused: [] };
}

/** One format-1 value back into a play; throws like decodePlays. */
export function decodePlay(value: Buffer | null | undefined): Play {
  const { plays, refused } = decodePlays(value);
  if (plays.length !== 1 || refused.length > 0) throw new Error(refused[0]?.reason ?? 'not a single play');
  return plays[0]!;
}
