import { STATUS_CODES } from 'node:http';
import { KAFKA_UNAVAILABLE } from '@playlog/kafka';

/**
 * Errors ingest answers with. Every one has an HTTP status and a stable code; the bulk and ops routes
 * send Fastify's shape, the 1.2 routes 7digital's envelope (see routes/v12.ts).
 */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

export const Codes = {
  unauthorized: 'PLAYLOG_UNAUTHORIZED',
  syntheticNotAllowed: 'PLAYLOG_SYNTHETIC_NOT_ALLOWED',
  badRequest: 'PLAYLOG_BAD_REQUEST',
  invalidJson: 'PLAYLOG_INVALID_JSON',
  noValidPlays: 'PLAYLOG_NO_VALID_PLAYS',
  tooLarge: 'PLAYLOG_PAYLOAD_TOO_LARGE',
  tooManyPlays: 'PLAYLOG_TOO_MANY_PLAYS',
  unsupportedMediaType: 'PLAYLOG_UNSUPPORTED_MEDIA_TYPE',
  unsupportedEncoding: 'PLAYLOG_UNSUPPORTED_ENCODING',
  rateLimited: 'PLAYLOG_RATE_LIMITED',
  overloaded: 'PLAYLOG_OVERLOADED',
  kafkaUnavailable: KAFKA_UNAVAILABLE,
  authUnavailable: 'PLAYLOG_AUTH_UNAVAILABLE',
  notFound: 'PLAYLOG_NOT_FOUND',
  internal: 'PLAYLOG_INTERNAL',
} as const;

/** The reason phrase of an HTTP status, as Node (and so Fastify) names it. */
export function statusText(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

const INVALID_JSON = 'body is not valid JSON (keys named __proto__ or constructor.prototype are refused too)';

interface FastifyLikeError {
  statusCode?: number;
  code?: string;
  message: string;
  validation?: unknown;
}

/**
 * Maps any error thrown while handling a request to a status, a stable code and a message safe to show.
 * Fastify's own errors (body too large, bad JSON, unsupported media type, schema validation) get
 * PLAYLOG_ codes; anything unexpected becomes a 500 whose message reveals nothing internal.
 */
export function toHttpError(err: FastifyLikeError, bodyLimit?: number): HttpError {
  if (err instanceof HttpError) return err;
  const status = err.statusCode ?? 500;
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new HttpError(
        413,
        Codes.tooLarge,
        bodyLimit ? `request body is over this route's limit of ${bodyLimit} bytes (after decompression)` : err.message,
      );
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return status === 415
        ? new HttpError(415, Codes.unsupportedMediaType, 'Content-Type must be application/json (or application/x-ndjson on /v1/play-logs)')
        : new HttpError(400, Codes.badRequest, err.message);
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new HttpError(400, Codes.invalidJson, INVALID_JSON);
  }
  if (err.validation) return new HttpError(400, Codes.badRequest, err.message);
  if (status === 400 && err.message.includes('JSON')) return new HttpError(400, Codes.invalidJson, INVALID_JSON);
  if (status >= 400 && status < 500) return new HttpError(status, Codes.badRequest, err.message);
  return new HttpError(500, Codes.internal, 'internal error');
}
