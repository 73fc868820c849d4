import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

/**
 * GET /metrics on its own port (METRICS_PORT): the scrape carries the runtime's version and every
 * route's counters, which the public API port has no business showing. The NetworkPolicy opens this
 * port to the monitoring namespace only.
 */
export function metricsServer(registry: Registry): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  return app;
}
