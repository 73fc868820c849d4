import t from 'tap';
import { ConfigError } from '@playlog/config';
import { loadReporterConfig } from '../src/config.js';

t.test('one site by default: the edge is the loader’s own cluster and topic', async (t) => {
  const cfg = loadReporterConfig({ KAFKA_BROKERS: 'core:9092', KAFKA_TOPIC: 'plays' });
  t.match(cfg, {
    edgeBrokers: 'core:9092',
    edgeTopic: 'plays',
    compress: 'none',
    timezone: 'UTC',
    royaltyThresholdSeconds: 30,
    perPlayConnections: 1,
  });
});

t.test('two sites: the edge is named on its own', async (t) => {
  const cfg = loadReporterConfig({ KAFKA_BROKERS: 'core:9092', EDGE_KAFKA_BROKERS: 'e1:9092, e2:9092', EDGE_KAFKA_TOPIC: 'edge.plays' });
  t.match(cfg, { kafkaBrokers: 'core:9092', edgeBrokers: 'e1:9092,e2:9092', edgeTopic: 'edge.plays' });
});

t.test('refused at boot, naming each bad variable', async (t) => {
  const err = t.throws(() =>
    loadReporterConfig({
      REPORT_COMPRESS: 'zip',
      EDGE_KAFKA_BROKERS: 'edge',
      ROYALTY_THRESHOLD_SECONDS: '-1',
      REPORT_PER_PLAY_CONNECTIONS: '0',
    }),
  ) as ConfigError;
  t.same(err.problems, [
    'EDGE_KAFKA_BROKERS: must be host:port[,host:port…] (got "edge")',
    'REPORT_COMPRESS: must be one of none, gzip (got "zip")',
    'REPORT_PER_PLAY_CONNECTIONS: must be a whole number from 1 to 16 (got "0")',
    'ROYALTY_THRESHOLD_SECONDS: must be a whole number from 0 to 86400 (got "-1")',
  ]);
});
