import underPressure from '@fastify/under-pressure';
import fp from 'fastify-plugin';
import { Codes, HttpError } from '../errors.js';

/**
 * Load shedding: requests get 503 + Retry-After, instead of piling up, when the event loop lags, or
 * when the producer reports the broker unreachable or its queue near full. Public routes (probes,
 * metrics, docs) are never shed, so the pod stays observable under pressure.
 */
export default fp(
  async (app, opts: { maxEventLoopDelayMs: number; retryAfterSeconds: number }) => {
    const retryAfter = String(opts.retryAfterSeconds);
    await app.register(underPressure, {
      maxEventLoopDelay: opts.maxEventLoopDelayMs,
      healthCheckInterval: 500,
      healthCheck: async () => {
        const s = app.producer.state();
        return s.reachable && s.inFlight < s.maxInFlight * 0.9;
      },
      pressureHandler: async (req, reply, type) => {
        if (req.routeOptions.config.public) return;
        const s = app.producer.state();
        if (type === 'healthCheck') {
          // The health check runs every 500 ms: judge by the producer's state now, so a request right
          // after Kafka came back is not refused, and one while it is away is told so.
          if (!s.reachable) {
            reply.header('Retry-After', retryAfter);
            throw new HttpError(503, Codes.kafkaUnavailable, 'Kafka is unavailable; nothing was accepted, retry later');
          }
          if (s.inFlight < s.maxInFlight * 0.9) return;
        }
        reply.header('Retry-After', retryAfter);
        throw new HttpError(503, Codes.overloaded, 'server is overloaded; nothing was accepted, retry later');
      },
    });
  },
  { name: 'pressure', dependencies: ['producer'] },
);
