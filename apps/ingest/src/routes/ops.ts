import type { FastifyInstance } from 'fastify';

/** Probes for Kubernetes: liveness never depends on Kafka (a broker outage must not restart pods). */
export default async function opsRoutes(app: FastifyInstance): Promise<void> {
  const hide = { hide: true };
  app.get('/healthz', { schema: hide, config: { public: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: hide, config: { public: true } }, async (_req, reply) => {
    const s = app.producer.state();
    const reasons: string[] = [];
    if (!s.reachable) reasons.push('kafka unreachable');
    if (s.inFlight >= s.maxInFlight * 0.9) reasons.push('producer queue near full');
    if (app.isUnderPressure()) reasons.push('under pressure');
    if (reasons.length > 0) return reply.code(503).send({ status: 'unavailable', reasons });
    return { status: 'ready' };
  });
}
