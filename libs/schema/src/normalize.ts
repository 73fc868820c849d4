import { ISO_COUNTRIES } from './countries.js';
import { DAY_MS, dateTimeMillis, instantIsoUtc, instantKey, parseDateTime } from './datetime.js';
import { PlayErrorCode, type PlayError } from './errors.js';
import { playIdentity } from './identity.js';
import { END_REASONS, LIMITS, LOG_TYPES, PLAY_MODES, type LogType, type Play } from './play.js';
import { unsafeText } from './text.js';

/** Who sent the play and when; supplied by ingest, never by the client's body. */
export interface PlayContext {
  client: string;
  apiKeyName: string;
  /** Server time of receipt, epoch ms. */
  now: number;
  /** How far in the future `dateTimePlayed` may lie (clients' clocks drift). */
  clockSkewMs: number;
  synthetic?: boolean;
}

export type Normalized = { ok: true; play: Play } | { ok: false; error: PlayError };

/** What a play says for itself, checked: the fields a client sends, as they will be stored. */
export type PlayFields = Pick<
  Play,
  | 'clientPlayId'
  | 'logType'
  | 'userId'
  | 'country'
  | 'trackId'
  | 'releaseId'
  | 'formatId'
  | 'playMode'
  | 'endReason'
  | 'dateTimePlayed'
  | 'totalTimePlayed'
  | 'userAgent'
>;

/** What a request's plays share: who sent them and when (see the `h` table of format 3 in codec.ts). */
export type PlayHead = Pick<Play, 'client' | 'apiKeyName' | 'receivedAt' | 'synthetic'>;

export type ReadResult = { ok: true; play: PlayFields } | { ok: false; error: PlayError };

const INT_STRING = /^[0-9]{1,10}$/;

/** `ctx.now` as ISO 8601; a request's plays share it, so it is formatted once, not once per play. */
let lastNow = Number.NaN;
let lastIso = '';
function isoInstant(ms: number): string {
  if (ms !== lastNow) {
    lastIso = new Date(ms).toISOString();
    lastNow = ms;
  }
  return lastIso;
}

class Invalid extends Error {
  constructor(readonly error: PlayError) {
    super(error.message);
  }
}

function fail(code: PlayErrorCode, field: string | undefined, message: string): never {
  throw new Invalid({ code, field, message });
}

function required(raw: Record<string, unknown>, field: string): unknown {
  const v = raw[field];
  if (v === undefined || v === null) fail(PlayErrorCode.missingField, field, `${field} is required`);
  return v;
}

function int(raw: Record<string, unknown>, field: string): number {
  const v = required(raw, field);
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && INT_STRING.test(v)) n = Number(v);
  else n = Number.NaN;
  if (!Number.isInteger(n) || n < 0 || n > LIMITS.int32Max) {
    fail(PlayErrorCode.invalidField, field, `${field} must be a whole number from 0 to ${LIMITS.int32Max} (or its decimal string)`);
  }
  return n;
}

function oneOf<T extends string>(raw: Record<string, unknown>, field: string, allowed: readonly T[], need: boolean): T | null {
  const v = raw[field];
  if (v === undefined || v === null) {
    if (need) fail(PlayErrorCode.missingField, field, `${field} is required`);
    return null;
  }
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    fail(PlayErrorCode.invalidField, field, `${field} must be one of ${allowed.join(', ')}`);
  }
  return v as T;
}

function text(raw: Record<string, unknown>, field: string, max: number, need: boolean): string | null {
  const v = raw[field];
  if (v === undefined || v === null) {
    if (need) fail(PlayErrorCode.missingField, field, `${field} is required`);
    return null;
  }
  // User ids are strings in 7digital's API, but some clients send numeric ids as numbers.
  const s = typeof v === 'number' && Number.isSafeInteger(v) ? String(v) : v;
  if (typeof s !== 'string' || s.length === 0 || s.length > max) {
    fail(PlayErrorCode.invalidField, field, `${field} must be a string of 1 to ${max} characters`);
  }
  safe(field, s);
  return s;
}

/** Refuses text the database could not store as sent (see text.ts). */
function safe(field: string, s: string): void {
  const problem = unsafeText(s);
  if (problem) fail(PlayErrorCode.invalidField, field, `${field} ${problem}`);
}

function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const cut = s.slice(0, max);
  // Never leave half of a surrogate pair at the end.
  const last = cut.charCodeAt(max - 1);
  return last >= 0xd800 && last <= 0xdbff ? cut.slice(0, -1) : cut;
}

function readOrThrow(raw: unknown, ctx: PlayContext): PlayFields {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    fail(PlayErrorCode.notAnObject, undefined, 'a play must be a JSON object');
  }
  const r = raw as Record<string, unknown>;
  const logType = oneOf<LogType>(r, 'logType', LOG_TYPES, true)!;
  const userId = text(r, 'userId', LIMITS.userIdLength, true)!;

  const countryRaw = required(r, 'country');
  const country = typeof countryRaw === 'string' ? countryRaw.toUpperCase() : '';
  if (!ISO_COUNTRIES.has(country)) fail(PlayErrorCode.invalidField, 'country', 'country must be an ISO 3166-1 alpha-2 code');

  const trackId = int(r, 'trackId');
  const releaseId = int(r, 'releaseId');
  const formatId = int(r, 'formatId');
  const totalTimePlayed = int(r, 'totalTimePlayed');
  const playMode = oneOf(r, 'playMode', PLAY_MODES, logType === 'subscription');
  const endReason = oneOf(r, 'endReason', END_REASONS, logType === 'catalogue');

  const dateTimePlayed = required(r, 'dateTimePlayed');
  const at = typeof dateTimePlayed === 'string' ? dateTimeMillis(dateTimePlayed) : Number.NaN;
  if (Number.isNaN(at)) {
    fail(
      PlayErrorCode.invalidField,
      'dateTimePlayed',
      'dateTimePlayed must be ISO 8601 with a zone (Z or ±hh:mm) and at most 7 fractional digits',
    );
  }
  if (at > ctx.now + ctx.clockSkewMs || at <= ctx.now - LIMITS.windowDays * DAY_MS) {
    fail(
      PlayErrorCode.outOfWindow,
      'dateTimePlayed',
      `dateTimePlayed must be less than ${LIMITS.windowDays} days in the past and not in the future`,
    );
  }

  const userAgentRaw = r.userAgent;
  if (userAgentRaw !== undefined && userAgentRaw !== null && typeof userAgentRaw !== 'string') {
    fail(PlayErrorCode.invalidField, 'userAgent', 'userAgent must be a string');
  }
  if (typeof userAgentRaw === 'string') safe('userAgent', userAgentRaw);
  const userAgent = typeof userAgentRaw === 'string' && userAgentRaw.length > 0 ? truncate(userAgentRaw, LIMITS.userAgentLength) : null;
  const clientPlayId = text(r, 'playId', LIMITS.playIdLength, false);

  return {
    clientPlayId,
    logType,
    userId,
    country,
    trackId,
    releaseId,
    formatId,
    playMode,
    endReason,
    dateTimePlayed: dateTimePlayed as string,
    totalTimePlayed,
    userAgent,
  };
}

/**
 * Validates one play as a client sent it and returns its checked fields or the first problem found.
 * This is all ingest does per play: the identity and the UTC instant are the loader's to compute
 * (format 3 carries neither), and what a request's plays share is its PlayHead.
 */
export function readPlay(raw: unknown, ctx: PlayContext): ReadResult {
  try {
    return { ok: true, play: readOrThrow(raw, ctx) };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, error: err.error };
    throw err;
  }
}

/** What the plays of a request with this context share. */
export function playHead(ctx: PlayContext): PlayHead {
  return { client: ctx.client, apiKeyName: ctx.apiKeyName, receivedAt: isoInstant(ctx.now), synthetic: ctx.synthetic === true };
}

/** A play's identity (identity.ts) from its checked fields and its client. */
export function playIdOf(play: PlayFields, client: string): string {
  const instant = parseDateTime(play.dateTimePlayed);
  if (!instant) throw new Error('playIdOf: dateTimePlayed was not checked by readPlay');
  return playIdentity({
    client,
    clientPlayId: play.clientPlayId,
    logType: play.logType,
    userId: play.userId,
    trackId: play.trackId,
    instant: instantKey(instant),
  });
}

/** The stored play: checked fields, the request's head, the identity and the UTC instant. */
export function completePlay(play: PlayFields, head: PlayHead): Play {
  const instant = parseDateTime(play.dateTimePlayed);
  if (!instant) throw new Error('completePlay: dateTimePlayed was not checked by readPlay');
  return {
    v: 1,
    playId: playIdOf(play, head.client),
    clientPlayId: play.clientPlayId,
    client: head.client,
    apiKeyName: head.apiKeyName,
    logType: play.logType,
    userId: play.userId,
    country: play.country,
    trackId: play.trackId,
    releaseId: play.releaseId,
    formatId: play.formatId,
    playMode: play.playMode,
    endReason: play.endReason,
    dateTimePlayed: play.dateTimePlayed,
    playedAt: instantIsoUtc(instant),
    totalTimePlayed: play.totalTimePlayed,
    userAgent: play.userAgent,
    receivedAt: head.receivedAt,
    synthetic: head.synthetic,
  };
}

/** Validates one play as a client sent it and returns the whole stored play (identity included) or the first problem. */
export function normalizePlay(raw: unknown, ctx: PlayContext): Normalized {
  const r = readPlay(raw, ctx);
  return r.ok ? { ok: true, play: completePlay(r.play, playHead(ctx)) } : r;
}

/**
 * A 7digital `playLogItem` item with the request's query parameters folded in, ready for
 * `normalizePlay`. On the catalogue log an item's own userId wins over the query's.
 */
export function fromV12Item(item: unknown, logType: LogType, query: { country: unknown; userId: unknown }): unknown {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) return item;
  const it = item as Record<string, unknown>;
  const itemUser = logType === 'catalogue' && it.userId !== undefined && it.userId !== '' ? it.userId : undefined;
  // The fields normalizePlay reads, by name: a fixed-shape literal costs a fraction of a spread of the
  // parsed item (5 % of the 1.2 route's CPU in bench/ingest's profile). 1.2 has no client playId.
  return {
    logType,
    userId: itemUser ?? query.userId,
    country: query.country,
    trackId: it.trackId,
    releaseId: it.releaseId,
    formatId: it.formatId,
    totalTimePlayed: it.totalTimePlayed,
    playMode: it.playMode,
    endReason: it.endReason,
    dateTimePlayed: it.dateTimePlayed,
    userAgent: it.userAgent,
  };
}
