import t from 'tap';
import { ConfigError, env, loadConfig } from '../src/index.js';

const spec = {
  port: env.int('PORT', 8080, 1, 65_535),
  name: env.string('NAME'),
  mode: env.oneOf('MODE', 'fast', ['fast', 'safe'] as const),
  logRequests: env.bool('LOG_REQUESTS', false),
  brokers: env.brokers('KAFKA_BROKERS', '127.0.0.1:19092'),
  extra: env.brokersOrEmpty('EXTRA_BROKERS'),
  db: env.postgresUrl('DATABASE_URL', 'postgres://u:p@127.0.0.1:5432/db'),
  tz: env.timezone('TZ_NAME', 'UTC'),
};

t.test('defaults apply when a variable is unset or empty; values are trimmed and converted', async (t) => {
  const cfg = loadConfig(spec, {
    NAME: ' ingest ',
    PORT: '',
    LOG_REQUESTS: 'Yes',
    KAFKA_BROKERS: 'a:1, b-2.x:9092',
    TZ_NAME: 'Europe/London',
  });
  t.same(cfg, {
    port: 8080,
    name: 'ingest',
    mode: 'fast',
    logRequests: true,
    brokers: 'a:1,b-2.x:9092',
    extra: '',
    db: 'postgres://u:p@127.0.0.1:5432/db',
    tz: 'Europe/London',
  });
});

t.test('every bad variable is named in one ConfigError, with the rule and what was given', async (t) => {
  const err = t.throws(() =>
    loadConfig(spec, {
      PORT: '80.5',
      MODE: 'turbo',
      LOG_REQUESTS: 'maybe',
      KAFKA_BROKERS: 'no-port',
      EXTRA_BROKERS: 'x:1,,y:2',
      DATABASE_URL: 'mysql://x/y',
      TZ_NAME: 'Mars/Olympus',
    }),
  ) as ConfigError;
  t.ok(err instanceof ConfigError);
  t.equal(err.code, 'PLAYLOG_CONFIG_INVALID');
  t.same(err.problems, [
    'PORT: must be a whole number from 1 to 65535 (got "80.5")',
    'NAME: is required (unset)',
    'MODE: must be one of fast, safe (got "turbo")',
    'LOG_REQUESTS: must be true or false (got "maybe")',
    'KAFKA_BROKERS: must be host:port[,host:port…] (got "no-port")',
    'EXTRA_BROKERS: must be host:port[,host:port…] (got "x:1,,y:2")',
    'DATABASE_URL: must be a postgres:// URL (got "mysql://x/y")',
    'TZ_NAME: must be an IANA time zone name such as UTC or Europe/London (got "Mars/Olympus")',
  ]);
  t.match(err.message, /^invalid configuration:\n {2}PORT: /);
});

t.test('integers: digits only, refused outside their range at both ends; a long bad value is cut in the message', async (t) => {
  for (const [raw, ok] of [
    ['0', false],
    ['1', true],
    ['65535', true],
    ['65536', false],
    ['-1', false],
    ['1e3', false],
    ['0x10', false],
    [' 42 ', true],
  ] as const) {
    const run = () => loadConfig({ port: spec.port }, { PORT: raw });
    if (ok) t.equal(run().port, Number(raw), raw);
    else t.throws(run, ConfigError, raw);
  }
  const long = 'x'.repeat(200);
  const err = t.throws(() => loadConfig({ mode: spec.mode }, { MODE: long })) as ConfigError;
  t.equal(err.problems[0], `MODE: must be one of fast, safe (got "${'x'.repeat(80)}…")`);
});

t.test('booleans take the usual spellings only', async (t) => {
  for (const raw of ['1', 'true', 'TRUE', 'yes', 'on']) t.equal(loadConfig({ b: spec.logRequests }, { LOG_REQUESTS: raw }).b, true, raw);
  for (const raw of ['0', 'false', 'No', 'off']) t.equal(loadConfig({ b: spec.logRequests }, { LOG_REQUESTS: raw }).b, false, raw);
});
