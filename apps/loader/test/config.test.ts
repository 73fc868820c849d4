import t from 'tap';
import { ConfigError } from '@playlog/config';
import { FIXTURE_CREDENTIALS } from '@playlog/testing';
import { loadLoaderConfig as load } from '../src/config.js';

/** The loader's config from `env`, with stand-in credential files. */
const loadLoaderConfig = (env: NodeJS.ProcessEnv) => load({ PLAYLOG_CREDENTIALS_DIR: FIXTURE_CREDENTIALS, ...env });

t.test('defaults: the local stack, a dead-letter topic named after the plays topic', async (t) => {
  const cfg = loadLoaderConfig({});
  t.match(cfg, {
    port: 9091,
    kafka: {
      brokers: '127.0.0.1:19092',
      settings: { 'security.protocol': 'ssl', 'ssl.certificate.location': `${FIXTURE_CREDENTIALS}/loader.crt` },
    },
    databaseUrl: /^postgres:\/\/playlog_loader@127\.0\.0\.1:15432\/playlog\?sslmode=verify-full&/,
    kafkaTopic: 'play-logs',
    dlqTopic: 'play-logs-dlq',
    groupId: 'playlog-loader',
    batchSize: 5_000,
    writeConcurrency: 2,
    dbPoolMax: 3,
    retentionDays: 400,
    reportTimezone: 'UTC',
  });
  t.equal(loadLoaderConfig({ KAFKA_TOPIC: 'plays-b' }).dlqTopic, 'plays-b-dlq');
  t.equal(loadLoaderConfig({ KAFKA_DLQ_TOPIC: 'dead' }).dlqTopic, 'dead');
});

t.test('refused at boot, naming the variable: bad values, and settings that contradict each other', async (t) => {
  const err = t.throws(() =>
    loadLoaderConfig({ LOADER_BATCH_SIZE: '0', REPORT_TIMEZONE: 'Atlantis/Lost', DATABASE_URL: 'http://x' }),
  ) as ConfigError;
  t.same(
    err.problems.map((p) => p.split(':')[0]),
    ['DATABASE_URL', 'LOADER_BATCH_SIZE', 'REPORT_TIMEZONE'],
  );
  t.throws(() => loadLoaderConfig({ PLAY_RETENTION_DAYS: '30' }), /PLAY_RETENTION_DAYS: must be 0 \(keep all\) or at least 62/);
  t.equal(loadLoaderConfig({ PLAY_RETENTION_DAYS: '0' }).retentionDays, 0, '0 keeps everything');
  t.throws(
    () => loadLoaderConfig({ LOADER_WRITE_CONCURRENCY: '4', LOADER_DB_POOL_MAX: '3' }),
    /LOADER_WRITE_CONCURRENCY: must be at most LOADER_DB_POOL_MAX \(3\)/,
  );
});
