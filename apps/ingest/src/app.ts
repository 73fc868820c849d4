import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { Registry } from 'prom-client';
import type { IngestConfig } from './config.js';
import { Codes, statusText, toHttpError } from './errors.js';
import auth from './plugins/auth.js';
import durability from './plugins/durability.js';
import keys from './plugins/keys.js';
import metrics from './plugins/metrics.js';
import pressure from './plugins/pressure.js';
import rateLimit from './plugins/rate-limit.js';
import producer from './plugins/producer.js';
import summary from './plugins/summary.js';
import { acceptJson } from './routes/body.js';
import bulkRoutes from './routes/bulk.js';
import keyRoutes from './routes/key.js';
import opsRoutes from './routes/ops.js';
import v12Routes from './routes/v12.js';

export interface BuildOptions {
  logger?: FastifyServerOptions['loggerInstance'];
  registry?: Registry;
  /** Why the pod's other workers cannot take plays (from the primary); /readyz answers for the pod. */
  peerReasons?: () => string[];
  /** The clock the per-client rate limit refills by (tests hold it still); Date.now by default. */
  now?: () => number;
}

/**
 * The ingest app, built but not listening (main.ts listens; tests use inject or listen on port 0).
 * Plugins in tiers: infrastructure (metrics, producer, key feed, pressure, auth), then docs, then
 * routes. Nothing here waits for Kafka: the producer and the key feed connect in the background and
 * the app says it is not ready (and why) until they have.
 */
export async function buildApp(config: IngestConfig, opts: BuildOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: opts.logger,
    logController: new LogController({ disableRequestLogging: !config.logRequests }),
    // Slow clients cannot hold a connection open forever (slowloris): headers within
    // HEADERS_TIMEOUT_MS (checked every second), the whole request within 60 s.
    http: { headersTimeout: config.headersTimeoutMs, connectionsCheckingInterval: 1_000 },
    requestTimeout: 60_000,
    connectionTimeout: 120_000,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  });
  // Past MAX_CONNECTIONS, Node closes new connections at once instead of taking more sockets and memory.
  app.server.maxConnections = config.maxConnections;

  // Only JSON (and NDJSON on the bulk route) is accepted: anything else gets a 415.
  app.removeContentTypeParser('text/plain');
  acceptJson(app);

  await app.register(metrics, { registry: opts.registry ?? new Registry() });
  await app.register(producer, { config });
  await app.register(keys, { config });
  await app.register(durability, { config });
  await app.register(pressure, { maxEventLoopDelayMs: config.maxEventLoopDelayMs, retryAfterSeconds: config.retryAfterSeconds });
  await app.register(auth, { keysTopic: config.kafkaKeysTopic, retryAfter: String(config.retryAfterSeconds) });
  await app.register(rateLimit, {
    playsPerSecond: config.clientRatePlaysPerSecond,
    burstPlays: config.clientRateBurstPlays,
    now: opts.now,
  });
  await app.register(summary, { everySeconds: config.logSummarySeconds });

  await app.register(swagger, {
    openapi: {
      // 3.1: schemas are JSON Schema 2020-12, so PlayInput's if/then/else and examples appear as they are.
      openapi: '3.1.0',
      info: {
        title: 'Playlog ingest API',
        version: '1.0.0',
        description: 'Play logs from partners: 7digital-compatible 1.2 routes and a bulk route.',
        license: { name: 'Proprietary: for Playlog partners' },
      },
      servers: [{ url: '/', description: 'The host serving this document' }],
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          oauth_consumer_key: { type: 'apiKey', in: 'query', name: 'oauth_consumer_key' },
        },
      },
    },
  });
  await app.register(docs);

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

  await app.register(opsRoutes, { config, peerReasons: opts.peerReasons });
  await app.register(keyRoutes);
  await app.register(bulkRoutes, { config });
  await app.register(v12Routes, { config });
  return app;
}

/**
 * The OpenAPI UI at /docs, public, with security headers (helmet) in its own context so they apply to
 * the docs only: a Content-Security-Policy that allows the UI's own files and nothing inline or from
 * elsewhere (its page has no inline script or style; @fastify/swagger-ui's static/csp.json lists
 * none), no framing by other sites, no MIME sniffing.
 */
async function docs(app: FastifyInstance): Promise<void> {
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), public: true };
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        // Served over plain HTTP behind the cluster's TLS terminator; do not force https sub-resources.
        upgradeInsecureRequests: null,
      },
    },
  });
}
