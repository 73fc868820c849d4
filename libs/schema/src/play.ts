import { Type, type Static } from 'typebox';
import { CLIENT_NAME, SAFE_TEXT_PATTERN } from './text.js';

export const LOG_TYPES = ['subscription', 'catalogue'] as const;
export const PLAY_MODES = ['online', 'offline', 'online-cached'] as const;
export const END_REASONS = ['naturalEnd', 'userSkipped', 'other'] as const;
export type LogType = (typeof LOG_TYPES)[number];

export const LIMITS = {
  userIdLength: 255,
  userAgentLength: 256,
  playIdLength: 128,
  int32Max: 2_147_483_647,
  /** A play may be at most this old (strictly less than 61 days in the past). */
  windowDays: 61,
} as const;

/**
 * One play after validation and normalisation: what ingest writes to Kafka, the loader stores and the
 * reporter reads. Versioned (`v`) so the message format can evolve while old messages sit on the topic.
 */
export const Play = Type.Object(
  {
    v: Type.Literal(1),
    playId: Type.String({ format: 'uuid', description: 'Identity of the play; the same play always gets the same id.' }),
    clientPlayId: Type.Union([Type.String({ minLength: 1, maxLength: LIMITS.playIdLength, pattern: SAFE_TEXT_PATTERN }), Type.Null()]),
    client: Type.String({ pattern: CLIENT_NAME.source, description: 'From the API key; a safe path segment (it names report folders).' }),
    apiKeyName: Type.String({ pattern: SAFE_TEXT_PATTERN }),
    logType: Type.Union([Type.Literal('subscription'), Type.Literal('catalogue')]),
    userId: Type.String({ minLength: 1, maxLength: LIMITS.userIdLength, pattern: SAFE_TEXT_PATTERN }),
    country: Type.String({ pattern: '^[A-Z]{2}$' }),
    trackId: Type.Integer({ minimum: 0, maximum: LIMITS.int32Max }),
    releaseId: Type.Integer({ minimum: 0, maximum: LIMITS.int32Max }),
    formatId: Type.Integer({ minimum: 0, maximum: LIMITS.int32Max }),
    playMode: Type.Union([Type.Enum(PLAY_MODES), Type.Null()]),
    endReason: Type.Union([Type.Enum(END_REASONS), Type.Null()]),
    dateTimePlayed: Type.String({ description: 'Exactly as the client sent it.' }),
    playedAt: Type.String({ description: 'The same instant in UTC, microsecond precision.' }),
    totalTimePlayed: Type.Integer({ minimum: 0, maximum: LIMITS.int32Max }),
    userAgent: Type.Union([Type.String({ maxLength: LIMITS.userAgentLength, pattern: SAFE_TEXT_PATTERN }), Type.Null()]),
    receivedAt: Type.String({
      // As ingest writes it (Date#toISOString), on a real calendar day (format), and a year Postgres takes.
      format: 'date-time',
      pattern: '^(?!0000)[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z$',
      description: 'When ingest received the request, UTC, millisecond precision.',
    }),
    synthetic: Type.Boolean({ description: 'A smoke-test play; stored but never reported.' }),
  },
  { additionalProperties: false },
);
export type Play = Static<typeof Play>;
