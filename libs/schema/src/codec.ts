import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { DAY_MS, instantIsoUtc, instantKey, instantMillis, parseDateTime, type Instant } from './datetime.js';
import type { GateMarker } from './gate.js';
import { playIdentity } from './identity.js';
import type { PlayFields, PlayHead } from './normalize.js';
import { LIMITS, Play } from './play.js';

/*
 * Kafka message values, UTF-8 JSON, versioned by `v`. Ingest writes format 3; the loader reads all
 * three, since the topic holds days of messages across a deploy.
 * - Format 3: the plays of a message as columns (below).
 * - Format 2: `{"v":2,"plays":[Play, …]}`, the normalised plays of one message as objects.
 * - Format 1: one play as `{"v":1,…}` (the oldest messages, and the dead-letter topic's values).
 * Every play of every format passes the same checks when it is read (settle): its playId and playedAt
 * are computed again from its fields (a format-1 or 2 writer cannot choose them), and its instant must
 * lie in the window ingest allows around its receipt, which must not be in the future. So a writer of
 * the topic can neither reserve ids that real plays would then duplicate nor slip a play outside the
 * window in under an older format (docs/security.md).
 */

/** How a play's window is checked when it is read: the reader's clock, and ingest's allowance for fast clocks. */
export interface DecodeRules {
  now: number;
  /** CLOCK_SKEW_SECONDS, in ms: how far after its receipt a play may be dated (and a receipt after `now`). */
  skewMs: number;
}

/**
 * Format 3, what ingest writes: the plays of one message as columns, with what is the same for many
 * plays written once. Shared by a request's plays: client, key name, receivedAt and synthetic (a header
 * table `h`; `hi` gives each play's row when the message merges requests). Per play, only what cannot
 * be recomputed: `playId` and `playedAt` are not sent; the loader derives both from the fields (the
 * identity of identity.ts and the instant of datetime.ts, frozen for format 3). User agents are a
 * per-message dictionary (`uad`, `ua` indexes it, -1 for none); log types are 0/1.
 */
interface V3 {
  v: 3;
  h: [string, string, string, boolean][];
  hi?: number[];
  t: number[];
  u: string[];
  c: string[];
  tr: number[];
  re: number[];
  fo: number[];
  pm: (string | null)[];
  er: (string | null)[];
  d: string[];
  tt: number[];
  ua: number[];
  uad: string[];
  cp?: (string | null)[];
}

const LOG_TYPE_CODES = ['subscription', 'catalogue'] as const;

/** A request's checked plays and what they share: what ingest hands to encodeBatches. */
export interface PlayBatch {
  head: PlayHead;
  plays: PlayFields[];
}

/**
 * Format 3 for the plays of one message (what ingest writes), given as the batches of the requests it
 * holds: each batch's head goes once into the header table, then its plays into the columns.
 */
export function encodeBatches(batches: readonly PlayBatch[]): Buffer {
  const m: V3 = { v: 3, h: [], t: [], u: [], c: [], tr: [], re: [], fo: [], pm: [], er: [], d: [], tt: [], ua: [], uad: [] };
  const heads = new Map<string, number>();
  const agents = new Map<string, number>();
  const hi: number[] = [];
  const cp: (string | null)[] = [];
  let anyClientPlayId = false;
  for (const { head, plays } of batches) {
    const hk = `${head.client}\u0000${head.apiKeyName}\u0000${head.receivedAt}\u0000${head.synthetic ? 1 : 0}`;
    let h = heads.get(hk);
    if (h === undefined) {
      h = m.h.length;
      m.h.push([head.client, head.apiKeyName, head.receivedAt, head.synthetic]);
      heads.set(hk, h);
    }
    for (const p of plays) {
      hi.push(h);
      m.t.push(p.logType === 'catalogue' ? 1 : 0);
      m.u.push(p.userId);
      m.c.push(p.country);
      m.tr.push(p.trackId);
      m.re.push(p.releaseId);
      m.fo.push(p.formatId);
      m.pm.push(p.playMode);
      m.er.push(p.endReason);
      m.d.push(p.dateTimePlayed);
      m.tt.push(p.totalTimePlayed);
      if (p.userAgent === null) m.ua.push(-1);
      else {
        let a = agents.get(p.userAgent);
        if (a === undefined) {
          a = m.uad.length;
          m.uad.push(p.userAgent);
          agents.set(p.userAgent, a);
        }
        m.ua.push(a);
      }
      cp.push(p.clientPlayId);
      if (p.clientPlayId !== null) anyClientPlayId = true;
    }
  }
  if (m.h.length > 1) m.hi = hi;
  if (anyClientPlayId) m.cp = cp;
  return Buffer.from(JSON.stringify(m), 'utf8');
}

/** Format 3 for stored plays (tests and benches build messages this way; ingest uses encodeBatches). */
export function encodePlays(plays: readonly Play[]): Buffer {
  return encodeBatches(plays.map((p) => ({ head: p, plays: [p] })));
}

/** Why a message as a whole could not be read: its bytes are not JSON at all, or not a known format. */
export type DecodeFailure = 'unparsable' | 'invalid';

/** A message the loader cannot read as a whole, and why (the dead-letter metric's reason). */
export class DecodeError extends Error {
  override name = 'DecodeError';
  constructor(
    readonly kind: DecodeFailure,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new DecodeError('invalid', message);

const isArr = (x: unknown, n: number): x is unknown[] => Array.isArray(x) && x.length === n;

/**
 * A format-3 message back into plays, recomputing playId and playedAt; one bad play is refused alone.
 * What a request's plays share (the header table) is checked once per header, not once per play.
 */
function decodeV3(m: Record<string, unknown>, rules: DecodeRules): DecodedPlays {
  const d = m.d;
  if (!Array.isArray(d)) throw invalid('not a format-3 message: /d must be an array');
  const n = d.length;
  for (const k of ['t', 'u', 'c', 'tr', 're', 'fo', 'pm', 'er', 'tt', 'ua']) {
    if (!isArr(m[k], n)) throw invalid(`not a format-3 message: /${k} must be an array of ${n}`);
  }
  const heads = m.h;
  if (!Array.isArray(heads) || heads.length === 0 || !heads.every((h) => isArr(h, 4))) {
    throw invalid('not a format-3 message: /h must be a non-empty array of [client, apiKeyName, receivedAt, synthetic]');
  }
  if (m.hi !== undefined && !isArr(m.hi, n)) throw invalid(`not a format-3 message: /hi must be an array of ${n}`);
  if (m.cp !== undefined && !isArr(m.cp, n)) throw invalid(`not a format-3 message: /cp must be an array of ${n}`);
  if (!Array.isArray(m.uad)) throw invalid('not a format-3 message: /uad must be an array');
  const col = (k: string) => m[k] as unknown[];
  const [t, u, c, tr, re, fo, pm, er, tt, ua] = ['t', 'u', 'c', 'tr', 're', 'fo', 'pm', 'er', 'tt', 'ua'].map(col) as unknown[][];
  const hi = m.hi as unknown[] | undefined;
  const cp = m.cp as unknown[] | undefined;
  const uad = m.uad as unknown[];
  // Each header's receipt in ms when the header passes its rules; NaN sends its plays the long way (settle
  // with the whole schema), which finds and words the problem.
  const received = (heads as unknown[][]).map(([client, apiKeyName, receivedAt, synthetic]) =>
    checkHead.Check({ client, apiKeyName, receivedAt, synthetic }) ? Date.parse(receivedAt as string) : Number.NaN,
  );
  const out: DecodedPlays = { plays: [], refused: [] };
  for (let i = 0; i < n; i++) {
    const h = (hi ? hi[i] : 0) as number;
    const head = heads[h] as unknown[] | undefined;
    const agentAt = ua![i] as number;
    const item = {
      v: 1,
      playId: '',
      clientPlayId: cp ? cp[i] : null,
      client: head?.[0],
      apiKeyName: head?.[1],
      logType: LOG_TYPE_CODES[t![i] as number],
      userId: u![i],
      country: c![i],
      trackId: tr![i],
      releaseId: re![i],
      formatId: fo![i],
      playMode: pm![i],
      endReason: er![i],
      dateTimePlayed: d[i],
      playedAt: '',
      totalTimePlayed: tt![i],
      userAgent: agentAt === -1 ? null : uad[agentAt],
      receivedAt: head?.[2],
      synthetic: head?.[3],
    };
    settle(item, rules, out, item, received[h]);
  }
  return out;
}

/**
 * A play as read from any format, finished and checked: `playedAt` and `playId` computed from its fields
 * (whatever the item carried), then the schema, then the window around its receipt. Adds it to `out`'s
 * plays, or to its refused with the reason and `source` (the item as it came, for the dead letter).
 * `receivedMs`, when a number, says the item's shared header (client, key name, receipt, synthetic) has
 * already passed its rules, so only the play's own fields are checked here.
 */
function settle(item: Record<string, unknown>, rules: DecodeRules, out: DecodedPlays, source: unknown, receivedMs = Number.NaN): void {
  const instant: Instant | undefined = typeof item.dateTimePlayed === 'string' ? parseDateTime(item.dateTimePlayed) : undefined;
  if (!instant) return refuse(out, source, 'not a play: /dateTimePlayed is not a zoned ISO 8601 instant');
  if (typeof item.client === 'string' && typeof item.userId === 'string' && typeof item.trackId === 'number') {
    item.playedAt = instantIsoUtc(instant);
    item.playId = playIdentity({
      client: item.client,
      clientPlayId: typeof item.clientPlayId === 'string' ? item.clientPlayId : null,
      logType: String(item.logType),
      userId: item.userId,
      trackId: item.trackId,
      instant: instantKey(instant),
    });
  }
  // The header checked already, and playId and playedAt computed above: the play's own fields decide.
  // Either way, a refusal is worded from the whole schema.
  const headChecked = !Number.isNaN(receivedMs);
  if (!(headChecked ? item.playId !== '' && checkOwnFields.Check(item) : check.Check(item))) return refuse(out, source, whyNotAPlay(item));
  const received = headChecked ? receivedMs : Date.parse(item.receivedAt as string);
  if (received > rules.now + rules.skewMs)
    return refuse(out, source, `not a play: /receivedAt ${item.receivedAt as string} is in the future`);
  const at = instantMillis(instant);
  if (at > received + rules.skewMs || at <= received - LIMITS.windowDays * DAY_MS) {
    return refuse(
      out,
      source,
      `not a play: /dateTimePlayed is outside the ${LIMITS.windowDays}-day window of its receipt (${item.receivedAt as string})`,
    );
  }
  out.plays.push(item as Play);
}

function refuse(out: DecodedPlays, source: unknown, reason: string): void {
  out.refused.push({ value: Buffer.from(JSON.stringify(source), 'utf8'), reason });
}

/** A format-1 value: one play. The dead-letter topic holds refused plays this way. */
export function encodePlay(play: Play): Buffer {
  return Buffer.from(JSON.stringify(play), 'utf8');
}

const check = Compile(Play);
/** What a format-3 header holds, checked once per header; and what is each play's own, checked per play. */
const HEAD_FIELDS = ['client', 'apiKeyName', 'receivedAt', 'synthetic'] as const;
const checkHead = Compile(Type.Pick(Play, HEAD_FIELDS));
const checkOwnFields = Compile(Type.Omit(Play, [...HEAD_FIELDS, 'v', 'playId', 'playedAt']));

export interface RefusedPlay {
  /** The refused item alone, as a format-1 value, for the dead-letter topic. */
  value: Buffer;
  reason: string;
}

export interface DecodedPlays {
  plays: Play[];
  /** Items of a format-2 or 3 message that are not plays; the message's other plays are still good. */
  refused: RefusedPlay[];
  /** The marker, when the message is a gate marker (gate.ts; not yet authenticated): it holds no play. */
  gate?: GateMarker;
}

function whyNotAPlay(item: unknown): string {
  const first = check.Errors(item)[0];
  return `not a play: ${first ? `${first.instancePath || '/'} ${first.message}` : 'schema mismatch'}`;
}

/**
 * Reads a message value of any format (1, 2 or 3, or a gate marker). Throws an Error saying what is wrong when the message as a
 * whole is unreadable (empty, not JSON, no known format); the loader dead-letters such a message with
 * that reason. One bad item in a format-2 or 3 message is returned in `refused` instead, beside the rest.
 */
export function decodePlays(
  value: Buffer | null | undefined,
  rules: DecodeRules = { now: Date.now(), skewMs: DEFAULT_SKEW_MS },
): DecodedPlays {
  if (!value || value.length === 0) throw new DecodeError('unparsable', 'empty message');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    throw new DecodeError('unparsable', `not JSON: ${(err as Error).message}`);
  }
  const v = typeof parsed === 'object' && parsed !== null ? (parsed as { v?: unknown }).v : undefined;
  if (v === 'gate') {
    const { run, p, at, mac } = parsed as { run?: unknown; p?: unknown; at?: unknown; mac?: unknown };
    if (typeof run !== 'string' || !/^[0-9a-f-]{36}$/.test(run)) throw invalid('not a gate marker: /run must be a uuid');
    if (typeof p !== 'number' || typeof at !== 'string' || typeof mac !== 'string') {
      throw invalid('not a gate marker: /p, /at and /mac are required');
    }
    return { plays: [], refused: [], gate: { run, partition: p, at, mac } };
  }
  if (v === 3) return decodeV3(parsed as Record<string, unknown>, rules);
  if (v === 2) {
    const items = (parsed as { plays?: unknown }).plays;
    if (!Array.isArray(items)) throw invalid('not a play batch: /plays must be an array');
    const out: DecodedPlays = { plays: [], refused: [] };
    for (const item of items) {
      if (typeof item === 'object' && item !== null && !Array.isArray(item)) settle({ ...(item as object) }, rules, out, item);
      else out.refused.push({ value: Buffer.from(JSON.stringify(item) ?? 'null', 'utf8'), reason: whyNotAPlay(item) });
    }
    return out;
  }
  if (v !== 1) throw invalid(whyNotAPlay(parsed));
  const out: DecodedPlays = { plays: [], refused: [] };
  settle({ ...(parsed as object) }, rules, out, parsed);
  if (out.refused.length > 0) throw invalid(out.refused[0]!.reason);
  return out;
}

/** Ingest's default CLOCK_SKEW_SECONDS, for a reader that is not told otherwise. */
const DEFAULT_SKEW_MS = 300_000;

/** One format-1 value back into a play; throws like decodePlays. */
export function decodePlay(value: Buffer | null | undefined, rules?: DecodeRules): Play {
  const { plays, refused } = decodePlays(value, rules);
  if (plays.length !== 1 || refused.length > 0) throw invalid(refused[0]?.reason ?? 'not a single play');
  return plays[0]!;
}
