import { commandLine, ConfigError, loggerOptions, onShutdown } from '@playlog/config';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { buildApp } from './app.js';
import { loadIngestConfig } from './config.js';
import { metricsServer } from './metrics-server.js';
import { notReadyReasons } from './routes/ops.js';

const USAGE = `usage: npm run ingest [-- --help]
  Runs the ingest HTTP API in the foreground, configured from the environment (see .env.example):
  the API on PORT, GET /metrics on METRICS_PORT. SIGTERM drains in-flight requests and exits 0.`;

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
  const registry = new Registry();
  const app = await buildApp(config, { logger: log, registry });
  const metrics = metricsServer(registry);
  let stopReporting = () => {};
  onShutdown(log, async () => {
    // Stop accepting, let in-flight requests finish (their plays are flushed to Kafka), then close.
    stopReporting();
    await app.close();
    await metrics.close();
  });
  await app.listen({ port: config.port, host: config.host, backlog: config.listenBacklog });
  await metrics.listen({ port: config.metricsPort, host: config.host });
  log.info({ port: config.port, metricsPort: config.metricsPort }, 'ingest listening');
  stopReporting = reportReadiness(app, config, log);
}

/**
 * Until the pod is first ready, says every 10 s why not (each reason names the setting to check);
 * afterwards, logs each change of readiness once.
 */
function reportReadiness(
  app: Awaited<ReturnType<typeof buildApp>>,
  config: ReturnType<typeof loadIngestConfig>,
  log: pino.Logger,
): () => void {
  let last = '';
  let since = 0;
  const timer = setInterval(() => {
    const reasons = notReadyReasons(app, config).filter((r) => !r.startsWith('under pressure') && !r.startsWith('producer queue'));
    const now = reasons.join('; ');
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
