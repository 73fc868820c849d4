import { Type, type Static, type TSchema } from 'typebox';
import { END_REASONS, LIMITS, LOG_TYPES, PLAY_MODES } from './play.js';

/**
 * What clients send. These schemas document the API (OpenAPI) and describe the request envelopes that
 * Fastify checks; the field rules themselves are enforced by `normalizePlay`, so one code path decides
 * what is valid for both routes.
 */
const IntLike = (description: string) =>
  Type.Union([Type.Integer({ minimum: 0, maximum: LIMITS.int32Max }), Type.String({ pattern: '^[0-9]{1,10}$' })], {
    description: `${description}. An integer, or its decimal string ("12").`,
  });

const Enum = (values: readonly string[], description: string) =>
  Type.Union(
    values.map((v) => Type.Literal(v)),
    { description },
  );

const DateTimePlayed = Type.String({
  description: 'ISO 8601 with a zone (Z or ±hh:mm), up to 7 fractional digits; less than 61 days in the past and not in the future.',
  examples: ['2021-05-10T11:39:28.8981203Z'],
});

const common = {
  trackId: IntLike('Catalogue track id'),
  releaseId: IntLike('Catalogue release id'),
  formatId: IntLike('Audio format streamed'),
  dateTimePlayed: DateTimePlayed,
  totalTimePlayed: IntLike('Seconds actually played (0 for a prefetched stream never played)'),
  userAgent: Type.Optional(Type.String({ description: `Device and app version; truncated to ${LIMITS.userAgentLength} characters.` })),
};

/** A play on the bulk route: many users' plays in one request. */
export const BulkPlay = Type.Object({
  logType: Enum(LOG_TYPES, 'Which 7digital log the play belongs to'),
  userId: Type.String({ minLength: 1, maxLength: LIMITS.userIdLength, description: "The client's own user id" }),
  country: Type.String({ pattern: '^[A-Za-z]{2}$', description: 'ISO 3166-1 alpha-2, where the user streamed from' }),
  ...common,
  playMode: Type.Optional(Enum(PLAY_MODES, 'Required for subscription plays')),
  endReason: Type.Optional(Enum(END_REASONS, 'Required for catalogue plays')),
  playId: Type.Optional(Type.String({ minLength: 1, maxLength: LIMITS.playIdLength, description: 'Client idempotency key' })),
});
export type BulkPlay = Static<typeof BulkPlay>;

export const BulkBody = Type.Object({ plays: Type.Array(BulkPlay as TSchema) });

const ItemErrors = Type.Array(Type.Object({ index: Type.Integer(), code: Type.String(), message: Type.String() }));

export const BulkResult = Type.Object({
  accepted: Type.Integer(),
  rejected: Type.Integer(),
  errors: Type.Optional(ItemErrors),
});

/** An item of 7digital's `playLogItem` array (subscription and catalogue logs). */
export const V12Item = Type.Object({
  ...common,
  playMode: Type.Optional(Enum(PLAY_MODES, 'Subscription log: required')),
  endReason: Type.Optional(Enum(END_REASONS, 'Catalogue log: required')),
  userId: Type.Optional(Type.String({ maxLength: LIMITS.userIdLength, description: "Catalogue log: overrides the query's userId" })),
});

export const V12Body = Type.Object({ playLogItem: Type.Array(V12Item as TSchema, { minItems: 1 }) });

export const V12Query = Type.Object({
  country: Type.String({ description: 'ISO 3166-1 alpha-2' }),
  userId: Type.String({ description: "The client's user id, up to 255 characters" }),
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
