import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Registry } from 'prom-client';
import type { IngestConfig } from './config.js';
import { Codes, statusText, toHttpError } from './errors.js';
import auth from './plugins/auth.js';
import db from './plugins/db.js';
import metrics from './plugins/metrics.js';
import pressure from './plugins/pressure.js';
import rateLimit from './plugins/rate-limit.js';
import producer from './plugins/producer.js';
import bulkRoutes from './routes/bulk.js';
import opsRoutes from './routes/ops.js';
import v12Routes from './routes/v12.js';

export interface BuildOptions {
  logger?: FastifyServerOptions['loggerInstance'];
  registry?: Registry;
}

/**
 * The ingest app, built but not listening (main.ts listens; tests use inject or listen on port 0).
 * Plugins in tiers: infrastructure (metrics, db, producer, pressure, auth), then docs, then routes.
 */
export async function buildApp(config: IngestConfig, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger,
    disableRequestLogging: !config.logRequests,
    // Slow clients cannot hold a connection open forever (slowloris).
    requestTimeout: 60_000,
    connectionTimeout: 120_000,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });

  // Only JSON (and NDJSON on the bulk route) is accepted: anything else gets a 415.
  app.removeContentTypeParser('text/plain');

  await app.register(metrics, { registry: opts.registry ?? new Registry() });
  await app.register(db, { config });
  await app.register(producer, { config });
  await app.register(pressure, { maxEventLoopDelayMs: config.maxEventLoopDelayMs, retryAfterSeconds: config.retryAfterSeconds });
  await app.register(auth, { cacheSeconds: config.keyCacheSeconds, retryAfter: String(config.retryAfterSeconds) });
  await app.register(rateLimit, { playsPerSecond: config.clientRatePlaysPerSecond, burstPlays: config.clientRateBurstPlays });

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Playlog ingest API',
        version: '1.0.0',
        description: 'Play logs from partners: 7digital-compatible 1.2 routes and a bulk route.',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          oauth_consumer_key: { type: 'apiKey', in: 'query', name: 'oauth_consumer_key' },
        },
      },
    },
  });
  // The API's documentation is public: mark the UI's routes before it adds them.
  app.addHook('onRoute', (route) => {
    if (route.url.startsWith('/docs')) route.config = { ...(route.config ?? {}), public: true };
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  app.setErrorHandler((err, req, reply) => {
    const e = toHttpError(err as Parameters<typeof toHttpError>[0], req.routeOptions.bodyLimit);
    if (e.statusCode >= 500 && e.statusCode !== 503) req.log.error({ err }, 'request failed');
    return reply
      .code(e.statusCode)
      .headers(e.headers)
      .send({ statusCode: e.statusCode, code: e.code, error: statusText(e.statusCode), message: e.message });
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ statusCode: 404, code: Codes.notFound, error: 'Not Found', message: `no route ${req.method} ${req.url.split('?')[0]}` }),
  );

  await app.register(opsRoutes);
  await app.register(bulkRoutes, { config });
  await app.register(v12Routes, { config });
  return app;
}
