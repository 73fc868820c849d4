import t from 'tap';
import { ingestFixture } from './helpers.js';

t.test('probes, metrics and docs need no key', async (t) => {
  const f = await ingestFixture(t);
  t.same((await f.app.inject('/healthz')).json(), { status: 'ok' });
  const ready = await f.app.inject('/readyz');
  t.equal(ready.statusCode, 200, 'ready: broker reachable');
  const metrics = await f.app.inject('/metrics');
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
  t.same(paths.sort(), ['/1.2/catalogue/log', '/1.2/user/subscription/log', '/v1/play-logs']);
  t.equal((await f.app.inject('/docs')).statusCode < 400, true, 'UI served');
  const nf = await f.app.inject('/nope');
  t.equal(nf.statusCode, 404);
  t.equal(nf.json().code, 'PLAYLOG_NOT_FOUND');
});
