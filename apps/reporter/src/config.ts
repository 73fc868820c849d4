import {
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
import { gateSecret } from '@playlog/schema';

export const reporterConfigSpec = {
  kafkaTopic: env.string('KAFKA_TOPIC', defaults.kafkaTopic),
  /**
   * Where plays are acknowledged, for the completeness gate's markers: the edge's plays topic in two
   * sites (its brokers and client settings: EDGE_KAFKA_BROKERS, EDGE_KAFKA_SSL_…). Default: KAFKA_TOPIC.
   */
  edgeTopic: env.string('EDGE_KAFKA_TOPIC', ''),
  /** The loader's consumer group, whose committed offsets the completeness gate reads. */
  loaderGroupId: env.string('KAFKA_GROUP_ID', 'playlog-loader'),
  databaseUrl: env.postgresUrl('DATABASE_URL', defaults.databaseUrl),
  reportDir: env.string('REPORT_DIR', './reports'),
  /** gzip: the per-play file is written as client-usage.csv.gz (the same bytes once inflated). */
  compress: env.oneOf('REPORT_COMPRESS', 'none', ['none', 'gzip'] as const),
  /**
   * Connections that write client-usage.csv side by side, each sending hours of the day. One: the
   * database sends the plays in binary and the reporter, one thread, renders every row (per-play.ts),
   * so further connections only help where the database's processes, not the reporter, are the limit.
   */
  perPlayConnections: env.int('REPORT_PER_PLAY_CONNECTIONS', 1, 1, 16),
  timezone: sharedSettings.reportTimezone,
  royaltyThresholdSeconds: env.int('ROYALTY_THRESHOLD_SECONDS', 30, 0, 86_400),
  /** Ingest's allowance for clients' fast clocks: a day closes this long after its end (same value as ingest's). */
  clockSkewSeconds: sharedSettings.clockSkewSeconds,
  logLevel: env.oneOf('LOG_LEVEL', 'info', logLevels),
};

export type ReporterConfig = ReturnType<typeof loadReporterConfig>;

export function loadReporterConfig(source: NodeJS.ProcessEnv = process.env) {
  const [cfg, { kafka, edge }, gateSecretKey] = loadAll(
    () => loadConfig(reporterConfigSpec, source),
    () => {
      const kafka = kafkaClientConfig('reporter', source, { brokers: defaults.kafkaBrokers });
      // One site: plays are acknowledged on the loader's own cluster and topic. Two sites: the edge's, where
      // the reporter connects as itself too, each EDGE_KAFKA_ setting defaulting to its KAFKA_ one.
      return { kafka, edge: kafkaClientConfig('reporter', source, { prefix: 'EDGE_KAFKA', fallback: kafka }) };
    },
    // The gate markers' secret, shared with the loader only: a marker without its MAC releases no gate.
    () => secretFile('GATE_SECRET_FILE', 'gate.secret', ([s]) => gateSecret(s!), source),
  );
  return {
    ...cfg,
    kafka,
    edge,
    gateSecret: gateSecretKey,
    databaseUrl: databaseUrlAs('reporter', cfg.databaseUrl, source),
    edgeTopic: cfg.edgeTopic || cfg.kafkaTopic,
  };
}
