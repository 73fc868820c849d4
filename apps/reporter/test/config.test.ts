import t from 'tap';
import { ConfigError } from '@playlog/config';
import { FIXTURE_CREDENTIALS } from '@playlog/testing';
import { loadReporterConfig as load } from '../src/config.js';

/** The reporter's config from `env`, with stand-in credential files. */
const loadReporterConfig = (env: NodeJS.ProcessEnv) => load({ PLAYLOG_CREDENTIALS_DIR: FIXTURE_CREDENTIALS, ...env });

t.test('one site by default: the edge is the loader’s own cluster and topic', async (t) => {
  const cfg = loadReporterConfig({ KAFKA_BROKERS: 'core:9092', KAFKA_TOPIC: 'plays' });
  t.match(cfg, {
    edge: { brokers: 'core:9092', settings: { 'ssl.certificate.location': `${FIXTURE_CREDENTIALS}/reporter.crt` } },
    edgeTopic: 'plays',
    compress: 'none',
    timezone: 'UTC',
    royaltyThresholdSeconds: 30,
    perPlayConnections: 1,
  });
});

t.test('two sites: the edge is named on its own', async (t) => {
  const cfg = loadReporterConfig({ KAFKA_BROKERS: 'core:9092', EDGE_KAFKA_BROKERS: 'e1:9092, e2:9092', EDGE_KAFKA_TOPIC: 'edge.plays' });
  t.match(cfg, { kafka: { brokers: 'core:9092' }, edge: { brokers: 'e1:9092,e2:9092' }, edgeTopic: 'edge.plays' });
  const other = loadReporterConfig({
    EDGE_KAFKA_BROKERS: 'e1:9092',
    EDGE_KAFKA_SSL_CERTIFICATE_LOCATION: `${FIXTURE_CREDENTIALS}/admin.crt`,
  });
  t.equal(other.edge.settings['ssl.certificate.location'], `${FIXTURE_CREDENTIALS}/admin.crt`, 'an edge setting of its own');
  t.equal(other.edge.settings['ssl.key.location'], `${FIXTURE_CREDENTIALS}/reporter.key`, 'the others as at the core');
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
    'REPORT_COMPRESS: must be one of none, gzip (got "zip")',
    'REPORT_PER_PLAY_CONNECTIONS: must be a whole number from 1 to 16 (got "0")',
    'ROYALTY_THRESHOLD_SECONDS: must be a whole number from 0 to 86400 (got "-1")',
    'EDGE_KAFKA_BROKERS: must be host:port[,host:port…] (got "edge")',
  ]);
});
