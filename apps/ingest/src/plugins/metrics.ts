import fp from 'fastify-plugin';
import { PlayErrorCode } from '@playlog/schema';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: IngestMetrics;
  }
}

export interface IngestMetrics {
  registry: Registry;
  plays: Counter<'route' | 'outcome'>;
  /** The `plays` counter's child for a route and outcome, kept (inc() with labels hashes them each call). */
  playCount(route: string, outcome: 'accepted' | 'rejected' | 'failed'): Counter.Internal;
  rejected: Counter<'route' | 'code'>;
}

/**
 * A metric's child for each combination of label values, made on first use and kept: inc() or observe()
 * with a labels object validates and hashes the labels on every call (1.5 % of ingest's main thread on
 * the 1.2 route, bench/ingest profile). As many children as the metric has series anyway.
 */
function kept<C>(make: (...values: string[]) => C): (...values: string[]) => C {
  const children = new Map<string, C>();
  return (...values) => {
    const id = values.join('\u0000');
    let child = children.get(id);
    if (!child) {
      child = make(...values);
      children.set(id, child);
    }
    return child;
  };
}

/**
 * One prom-client registry for the process and the request metrics. It is served on its own port
 * (METRICS_PORT, see metrics-server.ts), not on the public API port.
 */
export default fp(
  async (app, opts: { registry: Registry }) => {
    const registry = opts.registry;
    collectDefaultMetrics({ register: registry });
    const requests = new Histogram({
      name: 'playlog_http_request_duration_seconds',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    const plays = new Counter({
      name: 'playlog_ingest_plays_total',
      help: 'Plays received, by route and outcome (accepted: durably in Kafka; rejected: invalid; failed: Kafka did not take them)',
      labelNames: ['route', 'outcome'],
      registers: [registry],
    });
    const rejected = new Counter({
      name: 'playlog_ingest_validation_failures_total',
      help: 'Plays rejected as invalid, by route and error code',
      labelNames: ['route', 'code'],
      registers: [registry],
    });
    // Known label values start at 0, so the first rejection or failure shows up in increase().
    for (const route of ['bulk', 'subscription', 'catalogue']) {
      for (const outcome of ['accepted', 'rejected', 'failed']) plays.inc({ route, outcome }, 0);
      for (const code of Object.values(PlayErrorCode)) rejected.inc({ route, code }, 0);
    }
    const playCount = kept((route, outcome) => plays.labels({ route, outcome }));
    app.decorate('metrics', { registry, plays, rejected, playCount });

    const requestSeries = kept((method, status, route) => requests.labels({ method, route, status }));
    app.addHook('onResponse', (req, reply, done) => {
      requestSeries(req.method, String(reply.statusCode), req.routeOptions.url ?? 'unmatched').observe(reply.elapsedTime / 1000);
      done();
    });
  },
  { name: 'metrics' },
);
