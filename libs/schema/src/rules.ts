import { Type, type Static, type TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { Format } from 'typebox/format';
import { ISO_COUNTRIES } from './countries.js';
import { dateTimeMillis } from './datetime.js';
import { PlayErrorCode, type PlayError } from './errors.js';
import { END_REASONS, LIMITS, LOG_TYPES, PLAY_MODES } from './play.js';
import { unsafeText } from './text.js';

/*
 * What a play must be, as clients send it: one TypeBox schema that decides (compiled once, checked per
 * play by readPlay) and documents (the OpenAPI of both routes). Four rules JSON Schema cannot say are
 * named formats, registered here with TypeBox (names prefixed `playlog-`, so nothing else's change).
 * The one rule that depends on the request, the 61-day window around its receipt, is readPlay's.
 */
Format.Set('playlog-text', (s) => unsafeText(s) === undefined);
Format.Set('playlog-country', (s) => s.length === 2 && ISO_COUNTRIES.has(s.toUpperCase()));
Format.Set('playlog-uint31', (s) => /^[0-9]{1,10}$/.test(s) && Number(s) <= LIMITS.int32Max);
Format.Set('playlog-zoned-date-time', (s) => !Number.isNaN(scannedMillis(s)));

/**
 * dateTimeMillis with a one-entry cache: the format check scans each play's date-time, and readPlay asks
 * for the same text's instant right after (the window). A cache of a pure function, keyed by its argument,
 * so any caller gets dateTimeMillis(s) whatever ran before; it saves ingest a second scan of every play.
 */
let scannedText = '';
let scannedMs = Number.NaN;
export function scannedMillis(s: string): number {
  if (s !== scannedText) {
    scannedMs = dateTimeMillis(s);
    scannedText = s;
  }
  return scannedMs;
}

const Text = (max: number, description: string) =>
  Type.String({ minLength: 1, maxLength: max, format: 'playlog-text', description: `${description}; no control characters` });

const Uint31 = (description: string) =>
  Type.Union([Type.Integer({ minimum: 0, maximum: LIMITS.int32Max }), Type.String({ format: 'playlog-uint31' })], {
    description: `${description}. A whole number from 0 to ${LIMITS.int32Max}, or its decimal string ("12").`,
  });

const OneOf = (values: readonly string[], description: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { description },
  );

const Nullable = <T extends TSchema>(t: T) => Type.Optional(Type.Union([t, Type.Null()]));

/** A play as clients send it: each rule here is what readPlay enforces, and what the OpenAPI shows. */
export const PlayInput = Type.Object(
  {
    logType: OneOf(LOG_TYPES, 'Which 7digital log the play belongs to'),
    userId: Type.Union(
      [
        Text(LIMITS.userIdLength, "The client's own user id"),
        Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
      ],
      {
        description: "The client's own user id: 1 to 255 characters, no control characters; a whole number is taken as its decimal string",
      },
    ),
    country: Type.String({
      format: 'playlog-country',
      description: 'ISO 3166-1 alpha-2, assigned, any case (stored upper-case)',
      examples: ['GB'],
    }),
    trackId: Uint31('Catalogue track id'),
    releaseId: Uint31('Catalogue release id'),
    formatId: Uint31('Audio format streamed'),
    totalTimePlayed: Uint31('Seconds actually played (0 for a prefetched stream never played)'),
    playMode: Nullable(OneOf(PLAY_MODES, 'Required for subscription plays')),
    endReason: Nullable(OneOf(END_REASONS, 'Required for catalogue plays')),
    dateTimePlayed: Type.String({
      format: 'playlog-zoned-date-time',
      description: `ISO 8601 with a zone (Z or ±hh:mm), up to 7 fractional digits; less than ${LIMITS.windowDays} days before the request and not after it (beyond CLOCK_SKEW_SECONDS)`,
      examples: ['2021-05-10T11:39:28.8981203Z'],
    }),
    userAgent: Nullable(
      Type.String({
        format: 'playlog-text',
        description: `Device and app version; no control characters; kept to its first ${LIMITS.userAgentLength} characters`,
      }),
    ),
    playId: Nullable(
      Type.Union(
        [
          Text(LIMITS.playIdLength, 'Client idempotency key'),
          Type.Integer({ minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }),
        ],
        {
          description: 'Client idempotency key (bulk route): 1 to 128 characters; a whole number is taken as its decimal string',
        },
      ),
    ),
  },
  {
    // playMode for subscription plays, endReason for catalogue plays (null or undefined counts as absent).
    if: { properties: { logType: { const: 'subscription' } }, required: ['logType'] },
    then: { properties: { playMode: { type: 'string' } }, required: ['playMode'] },
    else: { properties: { endReason: { type: 'string' } }, required: ['endReason'] },
  },
);
export type PlayInput = Static<typeof PlayInput>;

export const checkPlayInput = Compile(PlayInput);

/** Fields in the order their problems are reported (the first is the one a client is told about). */
const FIELDS = [
  'logType',
  'userId',
  'country',
  'trackId',
  'releaseId',
  'formatId',
  'totalTimePlayed',
  'playMode',
  'endReason',
  'dateTimePlayed',
  'userAgent',
  'playId',
] as const;

const INVALID: Record<(typeof FIELDS)[number], string> = {
  logType: `logType must be one of ${LOG_TYPES.join(', ')}`,
  userId: `userId must be a string of 1 to ${LIMITS.userIdLength} characters`,
  country: 'country must be an ISO 3166-1 alpha-2 code',
  trackId: `trackId must be a whole number from 0 to ${LIMITS.int32Max} (or its decimal string)`,
  releaseId: `releaseId must be a whole number from 0 to ${LIMITS.int32Max} (or its decimal string)`,
  formatId: `formatId must be a whole number from 0 to ${LIMITS.int32Max} (or its decimal string)`,
  totalTimePlayed: `totalTimePlayed must be a whole number from 0 to ${LIMITS.int32Max} (or its decimal string)`,
  playMode: `playMode must be one of ${PLAY_MODES.join(', ')}`,
  endReason: `endReason must be one of ${END_REASONS.join(', ')}`,
  dateTimePlayed: 'dateTimePlayed must be ISO 8601 with a zone (Z or ±hh:mm) and at most 7 fractional digits',
  userAgent: 'userAgent must be a string',
  playId: `playId must be a string of 1 to ${LIMITS.playIdLength} characters`,
};

/**
 * The first problem of a play the schema refused, in FIELDS order, as the code, field and message
 * clients are told: a required field absent or null is missing; any other failure is invalid, with the
 * field's rule (and, for text, which character rule it broke).
 */
export function explain(raw: Record<string, unknown>): PlayError {
  const conditional = raw.logType === 'subscription' ? 'playMode' : raw.logType === 'catalogue' ? 'endReason' : undefined;
  for (const field of FIELDS) {
    const v = raw[field];
    if (v === undefined || v === null) {
      if (REQUIRED.has(field) || field === conditional) return { code: PlayErrorCode.missingField, field, message: `${field} is required` };
      continue;
    }
    if (fieldChecks[field]!.Check(v)) continue;
    // Text of a good length that breaks the character rule says which rule (see text.ts).
    const max = TEXT_MAX[field];
    if (typeof v === 'string' && max !== undefined && v.length >= 1 && [...v].length <= max) {
      const problem = unsafeText(v);
      if (problem) return { code: PlayErrorCode.invalidField, field, message: `${field} ${problem}` };
    }
    return { code: PlayErrorCode.invalidField, field, message: INVALID[field] };
  }
  // Every field passes on its own, so the object as a whole failed: only the log-type condition is left.
  return { code: PlayErrorCode.missingField, field: conditional, message: `${conditional ?? 'logType'} is required` };
}

const REQUIRED = new Set<string>(['logType', 'userId', 'country', 'trackId', 'releaseId', 'formatId', 'totalTimePlayed', 'dateTimePlayed']);
const TEXT_MAX: Partial<Record<string, number>> = {
  userId: LIMITS.userIdLength,
  userAgent: Number.MAX_SAFE_INTEGER,
  playId: LIMITS.playIdLength,
};

/** Each field's own schema, compiled: which field broke a rule, for explain (bad plays only). */
const fieldChecks: Record<string, { Check(v: unknown): boolean }> = Object.fromEntries(
  FIELDS.map((f) => [f, Compile(PlayInput.properties[f] as TSchema)]),
);
