import t from 'tap';
import { Registry } from 'prom-client';
import { metricsServer } from '../../src/metrics-server.js';
import { eventually, freshTopic, stack } from '@playlog/testing';
import { buildApp } from '../../src/app.js';
import { loadIngestConfig } from '../../src/config.js';
import { ingestFixture } from '../helpers.js';

t.test('probes and docs need no key; metrics are on their own port, not the API', async (t) => {
  const registry = new Registry();
  const f = await ingestFixture(t, {}, { registry });
  t.same((await f.app.inject('/healthz')).json(), { status: 'ok' });
  const ready = await f.app.inject('/readyz');
  t.equal(ready.statusCode, 200, 'ready: broker reachable, keys loaded');
  t.equal((await f.app.inject('/metrics')).statusCode, 404, 'no /metrics on the public API port');
  const metricsApp = metricsServer(registry.contentType, () => registry.metrics());
  t.teardown(() => metricsApp.close());
  const metrics = await metricsApp.inject('/metrics');
  t.equal(metrics.statusCode, 200);
  for (const name of [
    'playlog_http_request_duration_seconds',
    'playlog_ingest_plays_total',
    'playlog_kafka_produce_duration_seconds',
    'playlog_kafka_producer_in_flight_plays',
    'process_resident_memory_bytes',
  ]) {
    t.match(metrics.body, name, name);
  }
  const spec = await f.app.inject('/docs/json');
  t.equal(spec.statusCode, 200);
  const paths = Object.keys(spec.json().paths);
  t.same(paths.sort(), ['/1.2/catalogue/log', '/1.2/user/subscription/log', '/v1/key', '/v1/play-logs']);
  const ui = await f.app.inject('/docs/');
  t.equal(ui.statusCode, 200, 'UI served');
  t.match(
    ui.headers['content-security-policy'],
    /default-src 'self';.*script-src 'self';.*style-src 'self'/,
    'a CSP allowing only its own files',
  );
  t.notMatch(ui.headers['content-security-policy'], /unsafe-inline|https:/, 'nothing inline, nothing from elsewhere');
  t.equal(ui.headers['x-content-type-options'], 'nosniff');
  t.equal(ui.headers['x-frame-options'], 'SAMEORIGIN');
  t.notOk(ui.headers['content-security-policy']?.includes('upgrade-insecure-requests'), 'usable over plain HTTP behind TLS termination');
  const api = await f.app.inject({ url: '/v1/key', headers: { authorization: `Bearer ${f.key}` } });
  t.notOk(api.headers['content-security-policy'], 'security headers are for the docs, not every API answer');
  const nf = await f.app.inject('/nope');
  t.equal(nf.statusCode, 404);
  t.equal(nf.json().code, 'PLAYLOG_NOT_FOUND');
});

t.test('KAFKA_REQUIRE_REPLICATION=true: not ready against a topic that the loss of one broker could empty, saying why', async (t) => {
  const app = await buildApp(
    loadIngestConfig({ KAFKA_BROKERS: stack.brokers, KAFKA_TOPIC: await freshTopic(t, 1), KAFKA_REQUIRE_REPLICATION: 'true' }),
  );
  t.teardown(() => app.close());
  const reason = await eventually(async () => {
    const r = (await app.inject('/readyz')).json() as { reasons?: string[] };
    return r.reasons?.find((x) => x.includes('replication factor'));
  }, 20_000);
  t.match(
    reason,
    /^KAFKA_REQUIRE_REPLICATION=true: topic play-logs-t-\S+ has replication factor 1 \(needs 3\), min\.insync\.replicas 1 \(needs 2\); an acknowledged play could be lost with one broker$/,
  );
});
