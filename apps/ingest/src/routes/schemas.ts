import { Type, type TSchema } from 'typebox';
import { LIMITS, PlayInput, type LogType } from '@playlog/schema';

/**
 * The ingest API's request and response shapes, for Fastify and the OpenAPI document. A play's own rules
 * are libs/schema's `PlayInput`: the schema readPlay checks every play against (per play, so one bad
 * play does not fail the rest of a bulk request), shown here as the items of both routes' bodies.
 */
const EXAMPLE_PLAY = {
  logType: 'subscription',
  userId: 'u-1001',
  country: 'GB',
  trackId: 12345,
  releaseId: 678,
  formatId: 17,
  totalTimePlayed: 183,
  playMode: 'online',
  dateTimePlayed: '2021-05-10T11:39:28.8981203Z',
  userAgent: 'ExampleApp/4.2 (iOS 17)',
};

export const BulkBody = Type.Object(
  { plays: Type.Array(PlayInput as TSchema, { minItems: 1 }) },
  {
    description: 'Either body may be sent gzip-compressed (Content-Encoding: gzip); limits apply after decompression.',
    examples: [
      { plays: [EXAMPLE_PLAY, { ...EXAMPLE_PLAY, logType: 'catalogue', playMode: null, endReason: 'userSkipped', totalTimePlayed: 12 }] },
    ],
  },
);

/** The bulk route's two request bodies, as the OpenAPI document shows them. */
export const BulkBodies = {
  content: {
    'application/json': { schema: BulkBody },
    'application/x-ndjson': {
      schema: Type.String({
        description: 'One play (a PlayInput object) per line; blank lines are skipped; a line that is not JSON is a per-item error.',
        examples: [`${JSON.stringify(EXAMPLE_PLAY)}\n${JSON.stringify({ ...EXAMPLE_PLAY, userId: 'u-1002', trackId: 999 })}\n`],
      }),
    },
  },
};

/** Request headers every keyed route reads besides Authorization. */
export const RequestHeaders = Type.Object({
  'content-encoding': Type.Optional(
    Type.Enum(['gzip', 'identity'], { description: 'gzip: the body is inflated before parsing (any other coding: 415)' }),
  ),
  'x-playlog-synthetic': Type.Optional(
    Type.String({ description: 'Marks the plays synthetic (stored, never reported); only for keys named smoke, else 403' }),
  ),
});

const ItemErrors = Type.Array(Type.Object({ index: Type.Integer(), code: Type.String(), message: Type.String() }));

export const BulkResult = Type.Object(
  {
    accepted: Type.Integer(),
    rejected: Type.Integer(),
    errors: Type.Optional(ItemErrors),
  },
  {
    examples: [
      {
        accepted: 1,
        rejected: 1,
        errors: [{ index: 1, code: 'PLAYLOG_FIELD_MISSING', message: 'endReason is required' }],
      },
    ],
  },
);

/**
 * An item of 7digital's `playLogItem` array: a play without logType and country (the route and the
 * query give them) and, on the subscription log, without userId (the query's).
 */
const { logType: _logType, country: _country, userId: _userId, playId: _playId, ...itemFields } = PlayInput.properties;
const V12Item = Type.Object({
  ...itemFields,
  userId: Type.Optional(
    Type.String({ maxLength: LIMITS.userIdLength, description: "Catalogue log: overrides the query's userId unless empty" }),
  ),
});

const { logType: _t, country: _c, ...EXAMPLE_ITEM } = EXAMPLE_PLAY;

/**
 * A 1.2 route's body: the route is the log type, so its condition is the route's (PlayInput's if/then
 * on logType): the subscription log requires playMode, the catalogue log endReason.
 */
export function v12Body(logType: LogType): TSchema {
  const needs = logType === 'subscription' ? 'playMode' : 'endReason';
  const item = Type.Intersect([V12Item, Type.Object({ [needs]: Type.String({ description: `Required on the ${logType} log` }) })]);
  const example = logType === 'subscription' ? EXAMPLE_ITEM : { ...EXAMPLE_ITEM, playMode: null, endReason: 'naturalEnd' };
  return Type.Object({ playLogItem: Type.Array(item as TSchema, { minItems: 1 }) }, { examples: [{ playLogItem: [example] }] });
}

export const V12Query = Type.Object({
  country: PlayInput.properties.country,
  userId: Type.String({
    minLength: 1,
    maxLength: LIMITS.userIdLength,
    format: 'playlog-text',
    description: `The client's user id: 1 to ${LIMITS.userIdLength} characters, no control characters`,
  }),
  oauth_consumer_key: Type.Optional(Type.String({ description: 'API key, for clients that cannot send Authorization' })),
});

export const V12Ok = Type.Object({
  status: Type.Literal('ok'),
  version: Type.Literal('1.2'),
  playLogs: Type.Object({ count: Type.Integer() }),
});

export const V12Error = Type.Object({
  status: Type.Literal('error'),
  version: Type.Literal('1.2'),
  error: Type.Object({ code: Type.Integer(), errorMessage: Type.String() }),
});

export const FastifyError = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
});

/** A 400 on the bulk route: Fastify's error shape, plus the per-item errors when no play was valid. */
export const BulkRejected = Type.Object({
  statusCode: Type.Integer(),
  code: Type.String(),
  error: Type.String(),
  message: Type.String(),
  accepted: Type.Optional(Type.Integer()),
  rejected: Type.Optional(Type.Integer()),
  errors: Type.Optional(ItemErrors),
});

/** Retry-After, on every 429 and 503. */
const RetryAfter = {
  'Retry-After': Type.Integer({
    minimum: 1,
    description: 'Seconds to wait before retrying: RETRY_AFTER_SECONDS, or on a 429 until the rate limit lets the request through',
  }),
};

const WHEN: Record<number, string> = {
  400: 'The body is not JSON (or NDJSON), has the wrong shape, or holds an invalid play',
  401: 'Missing, malformed, unknown or revoked API key',
  403: 'X-Playlog-Synthetic sent with a key not named smoke; nothing was accepted',
  413: 'The body is over the route’s limit after decompression, or holds too many plays',
  415: 'Content-Type or Content-Encoding not accepted',
  429: 'The client is over its rate limit; nothing was accepted',
  503: 'Kafka, the API keys or the pod cannot take plays right now (unreachable, not confirming, overloaded); nothing was accepted',
};

/** A keyed route's error responses in its envelope, each with when it happens (and Retry-After on 429 and 503). */
export function errorResponses(envelope: TSchema, statuses: readonly (keyof typeof WHEN)[]): Record<number, TSchema> {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { ...envelope, description: WHEN[status], ...(status === 429 || status === 503 ? { headers: RetryAfter } : {}) },
    ]),
  );
}
