import { ConfigError, loggerOptions, onShutdown, redactUrl } from '@playlog/config';
import { pino } from 'pino';
import { buildApp } from './app.js';
import { loadIngestConfig } from './config.js';

async function main(): Promise<void> {
  const config = loadIngestConfig();
  const log = pino({
    ...loggerOptions('ingest', config.logLevel),
    serializers: {
      req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }),
      err: pino.stdSerializers.err,
    },
  });
  const app = await buildApp(config, { logger: log });
  onShutdown(log, async () => {
    // Stop accepting, let in-flight requests finish (their plays are flushed to Kafka), then close.
    await app.close();
  });
  await app.listen({ port: config.port, host: config.host, backlog: config.listenBacklog });
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`ingest: ${err.message}`);
  else console.error('ingest: failed to start:', err);
  process.exit(1);
});
