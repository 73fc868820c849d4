import type { FastifyInstance } from 'fastify';
import { fromV12Item, playHead, readPlay, V12_CODES, type LogType, type PlayFields, type PlayErrorCode } from '@playlog/schema';
import type { IngestConfig } from '../config.js';
import { Codes, HttpError, toHttpError } from '../errors.js';
import { playContext, publishPlays } from '../publish.js';
import { acceptGzip } from './body.js';
import { errorResponses, RequestHeaders, v12Body, V12Error, V12Ok, V12Query } from './schemas.js';

/** 7digital's numeric codes for the errors that are not about a play's fields. */
const V12_HTTP_CODES: Record<string, number> = {
  [Codes.badRequest]: 1001,
  [Codes.invalidJson]: 1003,
  [Codes.unauthorized]: 2001,
  [Codes.syntheticNotAllowed]: 2002,
  [Codes.tooLarge]: 1004,
  [Codes.tooManyPlays]: 1004,
  [Codes.unsupportedMediaType]: 1005,
  [Codes.unsupportedEncoding]: 1005,
  [Codes.rateLimited]: 1006,
  [Codes.notFound]: 1001,
  [Codes.overloaded]: 9001,
  [Codes.kafkaUnavailable]: 9001,
  [Codes.authUnavailable]: 9001,
  [Codes.internal]: 9000,
};

export function v12Code(code: string): number {
  return V12_CODES[code as PlayErrorCode] ?? V12_HTTP_CODES[code] ?? 9000;
}

/**
 * The 7digital-compatible routes, unchanged for existing clients: `{"playLogItem": [...]}` with country
 * and userId in the query, all or nothing, and 7digital's response and error envelopes.
 */
export default async function v12Routes(app: FastifyInstance, opts: { config: IngestConfig }): Promise<void> {
  const cfg = opts.config;
  await acceptGzip(app);

  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err as Parameters<typeof toHttpError>[0], req.routeOptions.bodyLimit);
    if (e.statusCode >= 500) req.log.error({ err }, 'request failed');
    return reply
      .code(e.statusCode)
      .headers(e.headers)
      .send({ status: 'error', version: '1.2', error: { code: v12Code(e.code), errorMessage: e.message } });
  });

  const route = (url: string, logType: LogType, summary: string) =>
    app.post(
      url,
      {
        bodyLimit: cfg.v12BodyLimitBytes,
        schema: {
          operationId: `log${logType === 'subscription' ? 'Subscription' : 'Catalogue'}Plays`,
          summary,
          tags: ['7digital 1.2'],
          security: [{ bearer: [] }, { oauth_consumer_key: [] }],
          querystring: V12Query,
          body: v12Body(logType),
          headers: RequestHeaders,
          response: {
            200: { ...V12Ok, description: 'Every item was durably taken by Kafka' },
            ...errorResponses(V12Error, [400, 401, 403, 413, 415, 429, 503]),
          },
        },
        // Each item is checked by readPlay against PlayInput (the bulk route's rules), not by Fastify.
        validatorCompiler: () => () => true,
        // 7digital's clients send their key as ?oauth_consumer_key=; only these routes take it there.
        config: { queryKey: true },
      },
      // Not async: what it throws is a 4xx before any write; then one promise chain to the response.
      (req) => {
        const body = req.body as { playLogItem?: unknown } | null;
        const items = typeof body === 'object' && body !== null ? body.playLogItem : undefined;
        if (!Array.isArray(items) || items.length === 0) {
          throw new HttpError(400, Codes.badRequest, 'playLogItem must be a non-empty array');
        }
        if (items.length > cfg.v12MaxItems) {
          throw new HttpError(413, Codes.tooManyPlays, `at most ${cfg.v12MaxItems} items per request (got ${items.length})`);
        }
        const query = req.query as { country?: unknown; userId?: unknown };
        app.rateLimit.take(req.principal.client, items.length);
        const ctx = playContext(req, cfg);
        const plays: PlayFields[] = [];
        for (let i = 0; i < items.length; i++) {
          const r = readPlay(fromV12Item(items[i], logType, { country: query.country, userId: query.userId }), ctx);
          if (!r.ok) {
            app.metrics.rejected.inc({ route: logType, code: r.error.code });
            app.metrics.playCount(logType, 'rejected').inc(items.length);
            throw new HttpError(400, r.error.code, `playLogItem[${i}]: ${r.error.message}`);
          }
          plays.push(r.play);
        }
        return publishPlays(app, cfg, logType, { head: playHead(ctx), plays }).then(() => ({
          status: 'ok',
          version: '1.2',
          playLogs: { count: plays.length },
        }));
      },
    );

  route('/1.2/user/subscription/log', 'subscription', 'Report subscriber streams (7digital 1.2)');
  route('/1.2/catalogue/log', 'catalogue', 'Report catalogue streams (7digital 1.2)');
}
