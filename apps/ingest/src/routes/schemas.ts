import { Type, type TSchema } from 'typebox';
import { LIMITS, PlayInput } from '@playlog/schema';

/**
 * The ingest API's request and response shapes, for Fastify and the OpenAPI document. A play's own rules
 * are libs/schema's `PlayInput`: the schema readPlay checks every play against (per play, so one bad
 * play does not fail the rest of a bulk request), shown here as the items of both routes' bodies.
 */
export const BulkBody = Type.Object(
  { plays: Type.Array(PlayInput as TSchema) },
  {
    description: 'Or NDJSON (application/x-ndjson), one play per line. Either may be sent gzip-compressed (Content-Encoding: gzip).',
  },
);

const ItemErrors = Type.Array(Type.Object({ index: Type.Integer(), code: Type.String(), message: Type.String() }));

export const BulkResult = Type.Object({
  accepted: Type.Integer(),
  rejected: Type.Integer(),
  errors: Type.Optional(ItemErrors),
});

/**
 * An item of 7digital's `playLogItem` array: a play without logType and country (the route and the
 * query give them) and, on the subscription log, without userId (the query's).
 */
const { logType: _logType, country: _country, userId: _userId, playId: _playId, ...itemFields } = PlayInput.properties;
export const V12Item = Type.Object({
  ...itemFields,
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
