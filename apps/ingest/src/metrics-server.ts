import Fastify, { type FastifyInstance } from 'fastify';

/**
 * GET /metrics on its own port (METRICS_PORT): the scrape carries the runtime's version and every
 * route's counters, which the public API port has no business showing. The NetworkPolicy opens this
 * port to the monitoring namespace only. `render` gives the text: the process's registry, or, in the
 * primary of several workers, all workers' registries summed (AggregatorRegistry.clusterMetrics), in
 * `contentType`.
 */
export function metricsServer(contentType: string, render: () => Promise<string>): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', contentType);
    return render();
  });
  return app;
}
