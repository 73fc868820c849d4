import t from 'tap';
import { eventually, freshDatabase, freshKeyFeed, freshTopic, run, stack, startApp } from '@playlog/testing';

const stackCmd = (cmd: string) => run('bash', ['tools/stack/stack.sh', cmd]);

/**
 * Stopping the broker makes ingest answer 503 with Retry-After (not hang, not crash, not 2xx);
 * starting it again recovers without restarting ingest.
 */
t.test('broker down: 503 + Retry-After; broker back: 202 again', async (t) => {
  const { db } = await freshDatabase(t);
  const topic = await freshTopic(t, 1);
  const feed = await freshKeyFeed(t, db);
  const key = await feed.create('outage');
  const { proc: ingest, base } = await startApp(t, 'ingest', {
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_KEYS_TOPIC: feed.topic,
    KAFKA_DELIVERY_TIMEOUT_MS: '3000',
    LOG_LEVEL: 'warn',
  });
  t.teardown(() => stackCmd('start-kafka')); // never leave the shared broker down

  const post = () =>
    fetch(`${base}/v1/play-logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        plays: [
          {
            logType: 'catalogue',
            userId: 'x',
            country: 'FR',
            trackId: 1,
            releaseId: 2,
            formatId: 3,
            endReason: 'other',
            dateTimePlayed: new Date(Date.now() - 60_000).toISOString(),
            totalTimePlayed: 5,
          },
        ],
      }),
    });
  t.equal((await post()).status, 202, 'accepted while the broker is up');

  const stopped = await stackCmd('stop-kafka');
  t.equal(stopped.code, 0, stopped.stderr);
  const started = Date.now();
  const refused = await eventually(
    async () => {
      const r = await post();
      t.not(r.status, 202, 'never a 2xx while the broker is down');
      return r.status === 503 ? r : undefined;
    },
    30_000,
    '503 while the broker is down',
  );
  t.ok(Date.now() - started < 30_000, `503 within ${Date.now() - started} ms`);
  t.ok(refused.headers.get('retry-after'), 'Retry-After is set');
  const body = await refused.json();
  t.match(body, { statusCode: 503, code: /^PLAYLOG_(KAFKA_UNAVAILABLE|OVERLOADED)$/ });
  t.equal((await fetch(`${base}/readyz`)).status, 503, 'not ready while the broker is down');
  t.equal((await fetch(`${base}/healthz`)).status, 200, 'still alive: no restart for a broker outage');

  const restarted = await stackCmd('start-kafka');
  t.equal(restarted.code, 0, restarted.stderr);
  await eventually(async () => (await post()).status === 202, 60_000, 'accepted again once the broker is back');
  t.equal(ingest.child.exitCode, null, 'ingest never crashed');
});
