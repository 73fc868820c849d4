import Fastify, { type FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';

export interface ProbeChecks {
  /** Alive: the loop ticked recently (a stuck loop gets the pod restarted). */
  alive(): boolean;
  /** Ready: the consumer is connected to Kafka, and the loop is not backing off from the database or the dead-letter topic. */
  ready(): Promise<{ ok: boolean; reasons: string[] }>;
}

/** The loader's own small HTTP server: /healthz, /readyz, /metrics. */
export function probeServer(registry: Registry, checks: ProbeChecks): FastifyInstance {
  const app = Fastify({ logger: false });
  app.get('/healthz', async (_req, reply) => (checks.alive() ? { status: 'ok' } : reply.code(503).send({ status: 'stalled' })));
  app.get('/readyz', async (_req, reply) => {
    const r = await checks.ready();
    return r.ok ? { status: 'ready' } : reply.code(503).send({ status: 'unavailable', reasons: r.reasons });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  return app;
}
