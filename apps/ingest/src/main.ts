import cluster from 'node:cluster';
import { commandLine, ConfigError, loggerOptions, onShutdown } from '@playlog/config';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { AggregatorRegistry, Registry } from 'prom-client';
import { buildApp } from './app.js';
import { loadIngestConfig, type IngestConfig } from './config.js';
import { metricsServer } from './metrics-server.js';
import { notReadyReasons } from './routes/ops.js';
import { podReadiness, startWorkers, workerConfig } from './workers.js';

const USAGE = `usage: npm run ingest [-- --help]
  Runs the ingest HTTP API in the foreground, configured from the environment (see .env.example):
  the API on PORT, GET /metrics on METRICS_PORT, in INGEST_WORKERS processes (default: the CPUs the
  container may use). SIGTERM drains in-flight requests in every worker and exits 0.`;

/** Request logs: the path only. A query string may carry a key (?oauth_consumer_key=, in any spelling). */
function logRequest(req: { method: string; url: string; ip?: string }) {
  return { method: req.method, path: req.url.split('?')[0], remoteAddress: req.ip };
}

/** Errors without what a client sent raw: Node's clientError carries the packet, headers and all. */
function logError(err: Error & { rawPacket?: unknown }) {
  const out = pino.stdSerializers.err(err) as ReturnType<typeof pino.stdSerializers.err> & { rawPacket?: unknown };
  delete out.rawPacket;
  return out;
}

async function main(): Promise<void> {
  commandLine('ingest', USAGE, process.argv.slice(2), {});
  const config = loadIngestConfig();
  const log = pino({ ...loggerOptions('ingest', config.logLevel), serializers: { req: logRequest, err: logError } });
  if (cluster.isWorker) return serve(workerConfig(config), log.child({ worker: Number(process.env.INGEST_WORKER) }), true);
  if (config.workers > 1) return supervise(config, log);
  return serve(config, log, false);
}

/**
 * The primary of a pod with several workers: forks them, serves the metrics of all of them on
 * METRICS_PORT (summed, by prom-client's AggregatorRegistry), and on SIGTERM or SIGINT stops them all.
 */
async function supervise(config: IngestConfig, log: pino.Logger): Promise<void> {
  const aggregator = new AggregatorRegistry();
  const metrics = metricsServer(aggregator.contentType, () => aggregator.clusterMetrics());
  const pool = startWorkers(config.workers, log, {
    onCrashLoop: () => {
      void pool.stop().finally(() => process.exit(1));
    },
  });
  onShutdown(
    log,
    async () => {
      const code = await pool.stop();
      await metrics.close();
      if (code !== 0) throw new Error(`a worker exited with code ${code}`);
    },
    // Longer than a worker's own grace, so that a slow worker's drain is not cut short here.
    30_000,
  );
  await metrics.listen({ port: config.metricsPort, host: config.host });
  await pool.listening;
  log.info({ port: config.port, metricsPort: config.metricsPort, workers: config.workers }, 'ingest listening');
}

/** One ingest process serving the API: the whole pod, or one worker of it. */
async function serve(config: IngestConfig, log: pino.Logger, inCluster: boolean): Promise<void> {
  const registry = new Registry();
  if (inCluster) {
    // Answer the primary's metric requests from this worker's registry.
    new AggregatorRegistry();
    AggregatorRegistry.setRegistries([registry]);
  }
  const pod = inCluster ? podReadiness() : undefined;
  // Handlers first: a SIGTERM while the app is still being built stops it cleanly too.
  let app: Awaited<ReturnType<typeof buildApp>> | undefined = undefined;
  const metrics = inCluster ? undefined : metricsServer(registry.contentType, () => registry.metrics());
  let stopReporting = () => {};
  onShutdown(
    log,
    async () => {
      // Stop accepting, let in-flight requests finish (their plays are flushed to Kafka), then close.
      stopReporting();
      await app?.close();
      await metrics?.close();
    },
    25_000,
    // A worker stops when the primary says so (SIGTERM); Ctrl-C at a terminal reaches the primary too.
    inCluster ? ['SIGINT'] : [],
  );
  if (inCluster) process.on('SIGINT', () => undefined);
  app = await buildApp(config, { logger: log, registry, peerReasons: pod?.peers });
  if (process.env.INGEST_WORKER_REPLACES === '1') {
    // A worker replacing one that died joins a pod that is already serving: it takes connections only
    // once it can take plays (Kafka, keys), instead of answering 503 beside a ready worker.
    await app.ready();
    while (lastingReasons(app, config).length > 0) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  await app.listen({ port: config.port, host: config.host, backlog: config.listenBacklog });
  await metrics?.listen({ port: config.metricsPort, host: config.host });
  if (!inCluster) log.info({ port: config.port, metricsPort: config.metricsPort }, 'ingest listening');
  stopReporting = reportReadiness(app, config, log, pod?.report);
}

/** Why the process cannot take plays, leaving out load shedding (which comes and goes by the second). */
function lastingReasons(app: FastifyInstance, config: IngestConfig): string[] {
  return notReadyReasons(app, config).filter((r) => !r.startsWith('under pressure') && !r.startsWith('producer queue'));
}

/**
 * Until the pod is first ready, says every 10 s why not (each reason names the setting to check);
 * afterwards, logs each change of readiness once. A worker also tells the primary (`onChange`).
 */
function reportReadiness(
  app: Awaited<ReturnType<typeof buildApp>>,
  config: ReturnType<typeof loadIngestConfig>,
  log: pino.Logger,
  onChange?: (reasons: string[]) => void,
): () => void {
  let last = '';
  let since = 0;
  let told: string | undefined;
  const timer = setInterval(() => {
    const reasons = lastingReasons(app, config);
    const now = reasons.join('; ');
    if (onChange && now !== told) {
      onChange(reasons);
      told = now;
    }
    if (now === last && (now === '' || Date.now() - since < 10_000)) return;
    if (now === '') log.info('ready');
    else log.warn({ reasons }, 'not ready');
    last = now;
    since = Date.now();
  }, 500);
  timer.unref();
  return () => clearInterval(timer);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`ingest: ${err.message}`);
  else console.error('ingest: failed to start:', err);
  process.exit(1);
});
