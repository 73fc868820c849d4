import { commandLine, ConfigError, createLogger, onShutdown } from '@playlog/config';
import { createPool, gateMarks, playsWriter } from '@playlog/db';
import { BatchConsumer, PlayProducer } from '@playlog/kafka';
import { Registry } from 'prom-client';
import { loadLoaderConfig } from './config.js';
import { deadLetters } from './dead-letter.js';
import { LoadLoop } from './loop.js';
import { partitionMaintenance } from './maintenance.js';
import { loaderMetrics } from './metrics.js';
import { keySync } from './key-sync.js';
import { probeServer } from './probes.js';
import { reportCoverage } from './report-coverage.js';
import { summaryLog } from './summary.js';
import { Throttle } from './throttle.js';

const USAGE = `usage: npm run loader [-- --help]
  Runs the loader in the foreground, configured from the environment (see .env.example): consumes
  KAFKA_TOPIC into Postgres, publishes the API keys to KAFKA_KEYS_TOPIC, serves /healthz, /readyz and
  /metrics on LOADER_PORT. SIGTERM finishes or abandons the batches in hand, commits, and exits 0.`;

async function main(): Promise<void> {
  commandLine('loader', USAGE, process.argv.slice(2), {});
  const config = loadLoaderConfig();
  const log = createLogger('loader', config.logLevel);
  const registry = new Registry();
  const metrics = loaderMetrics(registry);

  const pool = createPool(config.databaseUrl, config.dbPoolMax, 'playlog-loader');
  pool.on('error', (err) => log.warn({ err }, 'idle database connection failed'));
  const consumer = new BatchConsumer({
    brokers: config.kafkaBrokers,
    groupId: config.groupId,
    topic: config.kafkaTopic,
    clientId: 'playlog-loader',
    log: log.child({ component: 'consumer' }),
  });
  // Dead letters and the key feed.
  const producer = new PlayProducer({
    brokers: config.kafkaBrokers,
    clientId: 'playlog-loader',
    log: log.child({ component: 'producer' }),
    registry,
  });
  await Promise.all([consumer.connect(), producer.connect()]);

  const loop = new LoadLoop(
    consumer,
    playsWriter(pool),
    deadLetters(producer, config.dlqTopic),
    gateMarks(pool),
    new Throttle(config.maxRowsPerSecond, config.targetWriteMs),
    metrics,
    log,
    { batchSize: config.batchSize, batchWaitMs: config.batchWaitMs, writeConcurrency: config.writeConcurrency },
  );

  const probes = probeServer(registry, {
    alive: () => Date.now() - loop.lastTick < config.stallSeconds * 1000,
    ready: async () => {
      const reasons: string[] = [];
      if (!consumer.isConnected()) reasons.push('kafka disconnected');
      if (loop.backingOffFrom === 'database') reasons.push('database unavailable, backing off');
      if (loop.backingOffFrom === 'kafka') reasons.push('dead-letter topic not taking writes (Kafka), backing off');
      return { ok: reasons.length === 0, reasons };
    },
  });

  const lagTimer = setInterval(() => {
    consumer.lag().then(
      (parts) => {
        metrics.lag.reset(); // partitions lost in a rebalance must not keep their last lag
        parts.forEach((p) => metrics.lag.set({ partition: String(p.partition) }, p.lag));
      },
      () => undefined,
    );
  }, 10_000);
  lagTimer.unref();

  const maintenance = partitionMaintenance(pool, config.retentionDays, log);
  await maintenance.start();
  const keys = keySync(
    pool,
    producer,
    config.keysTopic,
    config.keySyncSeconds * 1000,
    log.child({ component: 'key-feed' }),
    metrics.lastKeySync,
  );
  await keys.start();
  const stopSummary = summaryLog(metrics, log, config.logSummarySeconds);
  const coverage = reportCoverage(
    pool,
    config.reportTimezone,
    config.clockSkewSeconds,
    300_000,
    {
      unreported: metrics.unreportedDays,
      oldestUnreported: metrics.oldestUnreportedDay,
      versions: metrics.reportVersions,
      caughtUp: metrics.reportDaysCaughtUp,
    },
    log.child({ component: 'report-coverage' }),
  );
  await coverage.start();
  loop.start();
  await probes.listen({ port: config.port, host: config.host });
  log.info({ topic: config.kafkaTopic, group: config.groupId, keysTopic: config.keysTopic, port: config.port }, 'loader started');

  onShutdown(log, async () => {
    clearInterval(lagTimer);
    stopSummary();
    keys.stop();
    coverage.stop();
    maintenance.stop();
    await loop.stop();
    await consumer.close();
    await producer.close();
    await probes.close();
    await pool.end();
  });
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`loader: ${err.message}`);
  else console.error('loader: failed to start:', err);
  process.exit(1);
});
