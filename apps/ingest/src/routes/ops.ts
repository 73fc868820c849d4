import type { FastifyInstance } from 'fastify';
import type { IngestConfig } from '../config.js';

/** Why the pod should not take traffic now; empty when it should. Each reason names what to check. */
export function notReadyReasons(app: FastifyInstance, cfg: IngestConfig): string[] {
  const reasons: string[] = [];
  const s = app.producer.state();
  if (!s.reachable) reasons.push(`Kafka unreachable at KAFKA_BROKERS=${cfg.kafka.brokers}${s.problem ? ` (${s.problem})` : ''}`);
  const feed = app.keyFeed.state();
  if (feed.problem) reasons.push(`key feed KAFKA_KEYS_TOPIC=${cfg.kafkaKeysTopic} unreadable (${feed.problem})`);
  const keys = app.keys.usable(cfg.kafkaKeysTopic);
  if (!keys.ok && !feed.problem) reasons.push(keys.why);
  const durability = app.durabilityProblem();
  if (durability) reasons.push(durability);
  if (s.inFlight >= s.maxInFlight * 0.9) reasons.push(`producer queue near full (KAFKA_MAX_IN_FLIGHT=${s.maxInFlight})`);
  if (app.isUnderPressure()) reasons.push(`under pressure (event loop delay over MAX_EVENT_LOOP_DELAY_MS=${cfg.maxEventLoopDelayMs})`);
  return reasons;
}

/** Probes for Kubernetes: liveness never depends on Kafka (a broker outage must not restart pods). */
export default async function opsRoutes(app: FastifyInstance, opts: { config: IngestConfig; peerReasons?: () => string[] }): Promise<void> {
  const hide = { hide: true };
  app.get('/healthz', { schema: hide, config: { public: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: hide, config: { public: true } }, async (_req, reply) => {
    const reasons = [...notReadyReasons(app, opts.config), ...(opts.peerReasons?.() ?? [])];
    if (reasons.length > 0) return reply.code(503).send({ status: 'unavailable', reasons });
    return { status: 'ready' };
  });
}
