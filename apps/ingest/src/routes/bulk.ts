import type { FastifyInstance } from 'fastify';
import { playHead, PlayErrorCode, readPlay, type PlayFields } from '@playlog/schema';
import type { IngestConfig } from '../config.js';
import { Codes, HttpError } from '../errors.js';
import { playContext, publishPlays } from '../publish.js';
import { acceptGzip, acceptNdjson, BadLine } from './body.js';
import { BulkBodies, BulkRejected, BulkResult, errorResponses, FastifyError, RequestHeaders } from './schemas.js';

const ROUTE = 'bulk';

/**
 * POST /v1/play-logs: many users' plays in one request, each validated on its own. Valid plays are
 * written even when others are not: 202 when all were taken, 207 with per-item errors when some were
 * not, 400 when none were. Nothing is reported accepted before Kafka has durably taken it.
 */
export default async function bulkRoutes(app: FastifyInstance, opts: { config: IngestConfig }): Promise<void> {
  const cfg = opts.config;
  await acceptGzip(app);
  acceptNdjson(app, cfg.bulkBodyLimitBytes);

  app.post(
    '/v1/play-logs',
    {
      bodyLimit: cfg.bulkBodyLimitBytes,
      schema: {
        operationId: 'logPlays',
        summary: 'Log many users’ plays (bulk)',
        description:
          `JSON \`{"plays":[...]}\` or NDJSON (one play per line); gzip accepted. At most ${cfg.bulkMaxPlays} plays and ` +
          `${cfg.bulkBodyLimitBytes} bytes (after decompression) per request. Each play is validated on its own.`,
        tags: ['bulk'],
        security: [{ bearer: [] }],
        headers: RequestHeaders,
        body: BulkBodies,
        response: {
          202: { ...BulkResult, description: 'Every play was durably taken by Kafka' },
          207: { ...BulkResult, description: 'The valid plays were durably taken; errors lists the others by index' },
          400: {
            ...BulkRejected,
            description: `The body is not JSON or NDJSON or has the wrong shape, or no play was valid (errors lists them by index)`,
          },
          ...errorResponses(FastifyError, [401, 403, 413, 415, 429, 503]),
        },
      },
      // Each play is checked below against the same schema the body documents (PlayInput, by readPlay),
      // one by one so that a bad play does not fail the request; Fastify does not check the whole body.
      validatorCompiler: () => () => true,
    },
    async (req, reply) => {
      const body = req.body as { plays?: unknown } | null;
      if (typeof body !== 'object' || body === null || !Array.isArray(body.plays)) {
        throw new HttpError(400, Codes.badRequest, 'body must be {"plays": [play, ...]} or NDJSON, one play per line');
      }
      const items = body.plays;
      if (items.length === 0) throw new HttpError(400, Codes.badRequest, 'plays must hold at least one play');
      if (items.length > cfg.bulkMaxPlays) {
        throw new HttpError(413, Codes.tooManyPlays, `at most ${cfg.bulkMaxPlays} plays per request (got ${items.length})`);
      }
      app.rateLimit.take(req.principal.client, items.length);
      const ctx = playContext(req, cfg);
      const plays: PlayFields[] = [];
      const errors: { index: number; code: string; message: string }[] = [];
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (item instanceof BadLine) {
          errors.push({ index: i, code: PlayErrorCode.invalidJson, message: item.message });
          continue;
        }
        const r = readPlay(item, ctx);
        if (r.ok) plays.push(r.play);
        else errors.push({ index: i, code: r.error.code, message: r.error.message });
      }
      for (const e of errors) app.metrics.rejected.inc({ route: ROUTE, code: e.code });
      app.metrics.playCount(ROUTE, 'rejected').inc(errors.length);
      if (plays.length === 0) {
        return reply.code(400).send({
          statusCode: 400,
          code: Codes.noValidPlays,
          error: 'Bad Request',
          message: 'no play in the request was valid; see errors',
          accepted: 0,
          rejected: errors.length,
          errors,
        });
      }
      await publishPlays(app, cfg, ROUTE, { head: playHead(ctx), plays });
      if (errors.length === 0) return reply.code(202).send({ accepted: plays.length, rejected: 0 });
      return reply.code(207).send({ accepted: plays.length, rejected: errors.length, errors });
    },
  );
}
