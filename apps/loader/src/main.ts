import { commandLine, ConfigError, createLogger, onShutdown } from '@playlog/config';
import { buildLoader } from './app.js';
import { loadLoaderConfig } from './config.js';

const USAGE = `usage: npm run loader [-- --help]
  Runs the loader in the foreground, configured from the environment (see .env.example): consumes
  KAFKA_TOPIC into Postgres, publishes the API keys to KAFKA_KEYS_TOPIC, serves /healthz, /readyz and
  /metrics on LOADER_PORT. SIGTERM finishes or abandons the batches in hand, commits, and exits 0.`;

async function main(): Promise<void> {
  commandLine('loader', USAGE, process.argv.slice(2), {});
  const config = loadLoaderConfig();
  const log = createLogger('loader', config.logLevel);
  const loader = buildLoader(config, log);
  await loader.start();
  log.info({ topic: config.kafkaTopic, group: config.groupId, keysTopic: config.keysTopic, port: config.port }, 'loader started');
  onShutdown(log, () => loader.stop());
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`loader: ${err.message}`);
  else console.error('loader: failed to start:', err);
  process.exit(1);
});
