import {
  ConfigError,
  databaseUrlAs,
  defaults,
  env,
  kafkaClientConfig,
  loadAll,
  loadConfig,
  logLevels,
  secretFile,
  sharedSettings,
} from '@playlog/config';
import { feedSigningKey, gateSecret, LIMITS } from '@playlog/schema';

export const loaderConfigSpec = {
  port: env.int('LOADER_PORT', 9091, 1, 65_535),
  host: env.string('HOST', '0.0.0.0'),
  kafkaTopic: env.string('KAFKA_TOPIC', defaults.kafkaTopic),
  groupId: env.string('KAFKA_GROUP_ID', 'playlog-loader'),
  /** Where messages that cannot be parsed or stored go, with their reason. Default: `<topic>-dlq`. */
  dlqTopic: env.string('KAFKA_DLQ_TOPIC', ''),
  databaseUrl: env.postgresUrl('DATABASE_URL', defaults.databaseUrl),
  logLevel: env.oneOf('LOG_LEVEL', 'info', logLevels),
  /** A batch is written when it has this many plays… */
  batchSize: env.int('LOADER_BATCH_SIZE', 5_000, 1, 100_000),
  /** …or when this long has passed since the first was read. */
  batchWaitMs: env.int('LOADER_BATCH_WAIT_MS', 1_000, 10, 60_000),
  /** Ceiling on rows written per second (0: no ceiling). The database's protection. */
  maxRowsPerSecond: env.int('LOADER_MAX_ROWS_PER_SECOND', 0, 0, 10_000_000),
  /** A batch write slower than this makes the loader slow down (adaptive backpressure). */
  targetWriteMs: env.int('LOADER_TARGET_WRITE_MS', 2_000, 10, 600_000),
  dbPoolMax: env.int('LOADER_DB_POOL_MAX', 3, 1, 50),
  /** Batches written at once, each on its own connection (offsets still commit in order). */
  writeConcurrency: env.int('LOADER_WRITE_CONCURRENCY', 2, 1, 16),
  /** Threads that decode batches and render their COPY rows beside the loop's (0: on the loop's thread). */
  decodeWorkers: env.int('LOADER_DECODE_WORKERS', 1, 0, 8),
  /** Daily partitions of plays older than this are dropped (0: keep all). Beyond the window (LIMITS.windowDays). */
  retentionDays: env.int('PLAY_RETENTION_DAYS', 400, 0, 100_000),
  /** Liveness fails when the loop has not ticked for this long. */
  stallSeconds: env.int('LOADER_STALL_SECONDS', 60, 5, 3_600),
  /** The key feed ingest reads its API keys from; the loader publishes the keys there. */
  keysTopic: env.string('KAFKA_KEYS_TOPIC', defaults.kafkaKeysTopic),
  /** How often the keys are published (a key created or revoked reaches ingest within this). */
  keySyncSeconds: env.int('KEY_SYNC_SECONDS', 30, 1, 3_600),
  /** The reports' day (the reporter's setting): which days have closed, for the report coverage gauges. */
  reportTimezone: sharedSettings.reportTimezone,
  /** A day closes this long after its end (ingest's and the reporter's setting). */
  clockSkewSeconds: sharedSettings.clockSkewSeconds,
  /** A summary line (plays loaded, duplicates, dead letters, lag) this often; 0: none. */
  logSummarySeconds: env.int('LOG_SUMMARY_SECONDS', 60, 0, 86_400),
};

export type LoaderConfig = ReturnType<typeof loadLoaderConfig>;

export function loadLoaderConfig(source: NodeJS.ProcessEnv = process.env) {
  const [cfg, kafka, keyFeedSigningKey, gateSecretKey] = loadAll(
    () => loadConfig(loaderConfigSpec, source),
    () => kafkaClientConfig('loader', source, { brokers: defaults.kafkaBrokers }),
    // The key feed's signing key: the loader publishes signed snapshots. The gate's secret: only a marker
    // it authenticates is recorded.
    () => secretFile('KEY_FEED_SIGNING_KEY_FILE', 'key-feed.key', ([pem]) => feedSigningKey(pem!), source),
    () => secretFile('GATE_SECRET_FILE', 'gate.secret', ([s]) => gateSecret(s!), source),
  );
  const leastRetention = LIMITS.windowDays + 1;
  if (cfg.retentionDays > 0 && cfg.retentionDays < leastRetention) {
    throw new ConfigError([
      `PLAY_RETENTION_DAYS: must be 0 (keep all) or at least ${leastRetention}, beyond the ${LIMITS.windowDays}-day window reports may restate`,
    ]);
  }
  if (cfg.writeConcurrency > cfg.dbPoolMax) {
    throw new ConfigError([`LOADER_WRITE_CONCURRENCY: must be at most LOADER_DB_POOL_MAX (${cfg.dbPoolMax}), one connection per write`]);
  }
  return {
    ...cfg,
    kafka,
    keyFeedSigningKey,
    gateSecret: gateSecretKey,
    databaseUrl: databaseUrlAs('loader', cfg.databaseUrl, source),
    dlqTopic: cfg.dlqTopic || `${cfg.kafkaTopic}-dlq`,
  };
}
