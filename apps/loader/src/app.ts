import { createPool, gateMarks, playsWriter } from '@playlog/db';
import { BatchConsumer, DurableProducer } from '@playlog/kafka';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { LoaderConfig } from './config.js';
import { deadLetters } from './dead-letter.js';
import { decoders } from './decoder.js';
import { keySync } from './key-sync.js';
import { LoadLoop } from './loop.js';
import { partitionMaintenance } from './maintenance.js';
import { loaderMetrics } from './metrics.js';
import { probeServer } from './probes.js';
import { reportCoverage } from './report-coverage.js';
import { summaryLog } from './summary.js';
import { Throttle } from './throttle.js';

export interface Loader {
  /** /healthz, /readyz and /metrics (listening once started). */
  probes: FastifyInstance;
  loop: LoadLoop;
  /** Connects to Kafka, starts the periodic jobs and the loop, then listens on LOADER_PORT. */
  start(): Promise<void>;
  /** Finishes or abandons the batches in hand, commits, closes every connection and the port. */
  stop(): Promise<void>;
}

/**
 * The loader, wired from a config object but not started (main.ts starts it; tests build one in-process
 * against the real broker and database): the consumer into Postgres, the dead-letter and key-feed
 * producer, partition maintenance, report coverage, the summary line and the probe server.
 */
export function buildLoader(config: LoaderConfig, log: Logger, registry = new Registry()): Loader {
  const metrics = loaderMetrics(registry);
  const pool = createPool(config.databaseUrl, config.dbPoolMax, 'playlog-loader');
  pool.on('error', (err) => log.warn({ err }, 'idle database connection failed'));
  const consumer = new BatchConsumer({
    cluster: config.kafka,
    groupId: config.groupId,
    topic: config.kafkaTopic,
    clientId: 'playlog-loader',
    log: log.child({ component: 'consumer' }),
  });
  // Dead letters and the key feed.
  const producer = new DurableProducer({
    cluster: config.kafka,
    clientId: 'playlog-loader',
    log: log.child({ component: 'producer' }),
    registry,
  });
  metrics.decodeThreads.set(config.decodeWorkers);
  const decoder = decoders(config.decodeWorkers, (err) => {
    metrics.decodeThreads.dec();
    log.error({ err }, "decode worker failed; its batches are decoded on the loop's thread from now on");
  });
  const loop = new LoadLoop(
    consumer,
    playsWriter(pool),
    deadLetters(producer, config.dlqTopic),
    gateMarks(pool),
    new Throttle(config.maxRowsPerSecond, config.targetWriteMs),
    metrics,
    log,
    {
      batchSize: config.batchSize,
      batchWaitMs: config.batchWaitMs,
      writeConcurrency: config.writeConcurrency,
      gateSecret: config.gateSecret,
      clockSkewMs: config.clockSkewSeconds * 1000,
      decoder,
    },
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
  const maintenance = partitionMaintenance(pool, config.retentionDays, log);
  const keys = keySync(
    pool,
    producer,
    config.keysTopic,
    config.keyFeedSigningKey,
    config.keySyncSeconds * 1000,
    log.child({ component: 'key-feed' }),
    metrics.lastKeySync,
  );
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
  let lagTimer: NodeJS.Timeout | undefined;
  let stopSummary = (): void => undefined;

  return {
    probes,
    loop,
    async start() {
      await Promise.all([consumer.connect(), producer.connect()]);
      lagTimer = setInterval(() => {
        consumer.lag().then(
          (parts) => {
            metrics.lag.reset(); // partitions lost in a rebalance must not keep their last lag
            parts.forEach((p) => metrics.lag.set({ partition: String(p.partition) }, p.lag));
          },
          () => undefined,
        );
      }, 10_000);
      lagTimer.unref();
      await maintenance.start();
      // Loading first; the key feed and the coverage gauges do not hold it up.
      loop.start();
      await keys.start();
      stopSummary = summaryLog(metrics, log, config.logSummarySeconds);
      await coverage.start();
      await probes.listen({ port: config.port, host: config.host });
    },
    async stop() {
      clearInterval(lagTimer);
      stopSummary();
      keys.stop();
      coverage.stop();
      maintenance.stop();
      await loop.stop();
      await decoder.close();
      await consumer.close();
      await producer.close();
      await probes.close();
      await pool.end();
    },
  };
}
