import { ConfigError, defaults, env, kafkaClientConfig, loadAll, loadConfig, logLevels, secretFile, sharedSettings } from '@playlog/config';
import { feedVerifyingKeys } from '@playlog/schema';
import { COMPRESSIONS, compressionAvailable } from '@playlog/kafka';
import { availableCpus } from './cpus.js';

export const ingestConfigSpec = {
  port: env.int('PORT', 8080, 1, 65_535),
  /** GET /metrics is served here, not on the public API port. */
  metricsPort: env.int('METRICS_PORT', 9464, 1, 65_535),
  host: env.string('HOST', '0.0.0.0'),
  /**
   * Processes serving the API on the one port (node:cluster): one JavaScript thread each. Default: the
   * CPUs the container may use (its CPU limit, else the CPUs the process may run on).
   */
  workers: env.int('INGEST_WORKERS', availableCpus(), 1, 64),
  // Connections the kernel queues while the process is busy (capped by net.core.somaxconn). Node's 511
  // overflowed under bursts: clients waited seconds on SYN retries, and some got ECONNRESET (bench/ingest).
  listenBacklog: env.int('LISTEN_BACKLOG', 4_096, 1, 65_535),
  kafkaTopic: env.string('KAFKA_TOPIC', defaults.kafkaTopic),
  /**
   * How the producer compresses its batches on the plays topic. zstd took format-3 plays to the fewest
   * bytes on the topic (bench/ingest/RESULTS.md), which the two-site design ships across the link.
   */
  kafkaCompression: env.oneOf('KAFKA_COMPRESSION', 'zstd', COMPRESSIONS),
  /**
   * Not ready unless the plays topic has replication factor ≥ 3, min.insync.replicas ≥ 2 and unclean
   * leader election off (the production overlay sets it; a one-broker local stack cannot).
   */
  requireReplication: env.bool('KAFKA_REQUIRE_REPLICATION', false),
  /** The key feed ingest reads its API keys from (in two sites, the core's feed mirrored to the edge). */
  kafkaKeysTopic: env.string('KAFKA_KEYS_TOPIC', defaults.kafkaKeysTopic),
  logLevel: env.oneOf('LOG_LEVEL', 'info', logLevels),
  /** One log line per request and response. Off by default: at this volume it costs more than the work. */
  logRequests: env.bool('LOG_REQUESTS', false),
  /** How far in the future a dateTimePlayed may be, for clients whose clocks run fast. */
  clockSkewSeconds: sharedSettings.clockSkewSeconds,
  /** Largest request body after decompression, bulk route. */
  bulkBodyLimitBytes: env.int('BULK_BODY_LIMIT_BYTES', 10 * 1024 * 1024, 1024, 512 * 1024 * 1024),
  /** Most plays in one bulk request. */
  bulkMaxPlays: env.int('BULK_MAX_PLAYS', 10_000, 1, 1_000_000),
  /** Largest request body, 7digital routes. */
  v12BodyLimitBytes: env.int('V12_BODY_LIMIT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
  v12MaxItems: env.int('V12_MAX_ITEMS', 1_000, 1, 100_000),
  /** How long Kafka may take to confirm a write before the request gets a 503. */
  kafkaDeliveryTimeoutMs: env.int('KAFKA_DELIVERY_TIMEOUT_MS', 10_000, 1_000, 300_000),
  /** Plays waiting for Kafka's confirmation, per process (each worker has its own); past it requests get 503 (bounded memory). */
  kafkaMaxInFlight: env.int('KAFKA_MAX_IN_FLIGHT', 50_000, 1_000, 10_000_000),
  /**
   * How long the producer waits to fill a batch to the broker. Every request waits for its delivery
   * report, so this is latency added to each request; concurrent requests already share messages
   * (PlayBatcher), so 1 ms is enough.
   */
  kafkaLingerMs: env.int('KAFKA_LINGER_MS', 1, 0, 1_000),
  /** Most plays in one Kafka message; a request's plays go in chunks of this size (bounded message size). */
  kafkaPlaysPerMessage: env.int('KAFKA_PLAYS_PER_MESSAGE', 500, 1, 1_000),
  /**
   * How long the keys are trusted after the feed's last heartbeat (the core confirming them against
   * Postgres). While the core or the link is down, a key revoked meanwhile keeps working for at most
   * this long; past it, keyed requests get 503 until the feed speaks again.
   */
  keyStaleSeconds: env.int('KEY_STALE_SECONDS', 3_600, 60, 7 * 86_400),
  /** Longest a client may take to send a request's headers (slow-header connections are closed). */
  headersTimeoutMs: env.int('HEADERS_TIMEOUT_MS', 10_000, 1_000, 60_000),
  /** Open connections per process; past it new ones are closed at once (bounded memory and sockets). */
  maxConnections: env.int('MAX_CONNECTIONS', 10_000, 10, 1_000_000),
  /** A summary line (plays accepted, rejected, failed; requests) this often; 0: none. */
  logSummarySeconds: env.int('LOG_SUMMARY_SECONDS', 60, 0, 86_400),
  /** Event-loop delay past which the pod answers 503 instead of queueing more work. */
  maxEventLoopDelayMs: env.int('MAX_EVENT_LOOP_DELAY_MS', 1_000, 10, 60_000),
  /** Per-client, per-pod rate limit in plays per second (0: none), and the burst it allows. */
  clientRatePlaysPerSecond: env.int('CLIENT_RATE_LIMIT_PLAYS_PER_SECOND', 50_000, 0, 100_000_000),
  clientRateBurstPlays: env.int('CLIENT_RATE_LIMIT_BURST_PLAYS', 100_000, 1, 1_000_000_000),
  /** Seconds clients are told to wait after a 503 or 429. */
  retryAfterSeconds: env.int('RETRY_AFTER_SECONDS', 5, 1, 3_600),
};

export type IngestConfig = ReturnType<typeof loadIngestConfig>;

export function loadIngestConfig(source: NodeJS.ProcessEnv = process.env) {
  // KAFKA_BROKERS and the client's TLS settings: as the ingest principal (libs/config credentials.ts).
  const [base, kafka, keyFeedVerifiers] = loadAll(
    () => loadConfig(ingestConfigSpec, source),
    () => kafkaClientConfig('ingest', source, { brokers: defaults.kafkaBrokers }),
    // The key feed's public keys (several while the signing key is rotated): only what they verify is a key.
    () => secretFile('KEY_FEED_PUBLIC_KEY_FILE', 'key-feed.pub', feedVerifyingKeys, source),
  );
  const cfg = { ...base, kafka, keyFeedVerifiers };
  if (cfg.bulkMaxPlays > cfg.kafkaMaxInFlight / 2) {
    throw new ConfigError([
      `BULK_MAX_PLAYS: must be at most half of KAFKA_MAX_IN_FLIGHT (${cfg.kafkaMaxInFlight}), or a full request could never be taken`,
    ]);
  }
  if (!compressionAvailable(cfg.kafkaCompression)) {
    throw new ConfigError([
      `KAFKA_COMPRESSION: ${cfg.kafkaCompression} is not built into this node-rdkafka (install libzstd-dev and run npm rebuild node-rdkafka, or bash tools/setup.sh), or choose lz4`,
    ]);
  }
  return cfg;
}
