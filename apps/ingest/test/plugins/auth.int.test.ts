import { randomBytes } from 'node:crypto';
import t from 'tap';
import { snapshotMessage } from '@playlog/schema';
import { readKeySnapshot } from '@playlog/db';
import { createKey, eventually, freshDatabase, freshTopic, stack, stackSigningKey, testProducer } from '@playlog/testing';
import { buildApp } from '../../src/app.js';
import { loadIngestConfig } from '../../src/config.js';
import { bulkPlay, ingestFixture, readAllPlays, v12Item } from '../helpers.js';

/** API keys from the key feed, on the real broker: no request reaches a database. */
t.test('API keys from the key feed', async (t) => {
  const f = await ingestFixture(t);
  const post = (key: string, extra: Record<string, string> = {}, userId = 'auth') =>
    f.app.inject({
      method: 'POST',
      url: '/v1/play-logs',
      headers: { authorization: `Bearer ${key}`, ...extra },
      payload: { plays: [bulkPlay({ userId })] },
    });

  t.test('GET /v1/key says whose key it is and whether its plays are synthetic', async (t) => {
    const smoke = await f.feed.create('acme', 'smoke');
    await eventually(async () => (await post(smoke)).statusCode === 202, 10_000, 'the new key accepted');
    t.same((await f.app.inject({ url: '/v1/key', headers: { authorization: `Bearer ${f.key}` } })).json(), {
      client: 'acme',
      name: 'test',
      synthetic: false,
    });
    t.same((await f.app.inject({ url: '/v1/key', headers: { authorization: `Bearer ${smoke}` } })).json(), {
      client: 'acme',
      name: 'smoke',
      synthetic: true,
    });
    t.equal((await f.app.inject({ url: '/v1/key' })).statusCode, 401);
  });

  t.test('smoke keys send synthetic plays; any other key asking for that is refused, nothing written', async (t) => {
    const smoke = await f.feed.create('acme', 'smoke');
    await eventually(async () => (await post(smoke, { 'x-playlog-synthetic': '1' }, 'smoke-1')).statusCode === 202, 10_000, 'accepted');
    t.equal((await post(smoke, {}, 'smoke-2')).statusCode, 202, 'a smoke key without the header: still synthetic');
    const refused = await post(f.key, { 'x-playlog-synthetic': '1' }, 'not-smoke');
    t.equal(refused.statusCode, 403);
    t.equal(refused.json().code, 'PLAYLOG_SYNTHETIC_NOT_ALLOWED');
    t.match(refused.json().message, /for keys named "smoke" only/);
    const v12 = await f.app.inject({
      method: 'POST',
      url: '/1.2/user/subscription/log?country=GB&userId=not-smoke-v12',
      headers: { authorization: `Bearer ${f.key}`, 'x-playlog-synthetic': '1' },
      payload: { playLogItem: [v12Item()] },
    });
    t.equal(v12.statusCode, 403);
    t.equal(v12.json().error.code, 2002, "7digital's envelope");
    const plays = await readAllPlays(f.topic);
    t.equal(plays.find((p) => p.userId === 'smoke-1')?.synthetic, true);
    t.equal(plays.find((p) => p.userId === 'smoke-2')?.synthetic, true);
    t.notOk(
      plays.some((p) => p.userId.startsWith('not-smoke')),
      'a refused request wrote nothing',
    );
  });

  t.test('keys not of the issued form are refused before any lookup; 20 000 junk keys evict nothing', async (t) => {
    for (const junk of ['x', 'plk_short', `plk_${'a'.repeat(44)}`, `plk_${'!'.repeat(43)}`, `PLK_${'a'.repeat(43)}`, 'a'.repeat(5_000)]) {
      const r = await post(junk);
      t.equal(r.statusCode, 401, `${junk.slice(0, 12)}…`);
      t.equal(r.json().code, 'PLAYLOG_UNAUTHORIZED');
    }
    for (let i = 0; i < 20_000; i++) {
      const r = await f.app.inject({ url: '/v1/key', headers: { authorization: `Bearer plk_${randomBytes(32).toString('base64url')}` } });
      if (r.statusCode !== 401) t.fail(`junk key answered ${r.statusCode}`);
    }
    t.equal(f.app.keys.size, 2 + 2, 'the table holds the issued keys only');
    t.equal((await post(f.key)).statusCode, 202, 'a good key still works');
  });

  t.test('the query-string key is for the 7digital routes only', async (t) => {
    const bulk = await f.app.inject({ method: 'POST', url: `/v1/play-logs?oauth_consumer_key=${f.key}`, payload: { plays: [bulkPlay()] } });
    t.equal(bulk.statusCode, 401);
    t.match(bulk.json().message, /oauth_consumer_key is for the 7digital 1.2 routes only/);
    const v12 = await f.app.inject({
      method: 'POST',
      url: `/1.2/user/subscription/log?country=GB&userId=q&oauth_consumer_key=${f.key}`,
      payload: { playLogItem: [v12Item()] },
    });
    t.equal(v12.statusCode, 200);
  });

  t.test('a key created or revoked at the core works, or stops, as soon as the feed says so', async (t) => {
    const fresh = await f.feed.create('initech');
    await eventually(async () => (await post(fresh)).statusCode === 202, 15_000, 'a new key accepted');
    await f.feed.revoke(f.app.keys.find(fresh)!.id);
    await eventually(async () => (await post(fresh)).statusCode === 401, 15_000, 'the revoked key refused');
    t.pass('created and revoked, each soon after the feed published it');
  });
});

t.test('keys not confirmed for KEY_STALE_SECONDS: 503 and not ready, until the feed speaks again', async (t) => {
  const { db } = await freshDatabase(t);
  const topic = await freshTopic(t);
  const feedTopic = await freshTopic(t, 1, 'keys');
  const key = await createKey(db, 'acme');
  const producer = await testProducer(t);
  const snapshot = await readKeySnapshot(db);
  // Confirmed two minutes ago, the last time: as when the core (or the link to it) has been down that long.
  await producer.send(feedTopic, [snapshotMessage({ ...snapshot, issuedAt: Date.now() - 120_000 }, stackSigningKey())]);
  const app = await buildApp(
    loadIngestConfig({ KAFKA_BROKERS: stack.brokers, KAFKA_TOPIC: topic, KAFKA_KEYS_TOPIC: feedTopic, KEY_STALE_SECONDS: '60' }),
  );
  t.teardown(() => app.close());
  const ready = await eventually(
    async () => {
      const r = await app.inject('/readyz');
      return r.json().reasons?.some((x: string) => x.includes('KEY_STALE_SECONDS=60')) ? r : undefined;
    },
    20_000,
    'not ready, saying why',
  );
  t.equal(ready.statusCode, 503);
  t.match(ready.json().reasons.join(), /API keys last confirmed 1\d\d s ago, over KEY_STALE_SECONDS=60/);
  const refused = await app.inject({
    method: 'POST',
    url: '/v1/play-logs',
    headers: { authorization: `Bearer ${key}` },
    payload: { plays: [bulkPlay()] },
  });
  t.equal(refused.statusCode, 503, 'a stale table checks no key');
  t.equal(refused.json().code, 'PLAYLOG_AUTH_UNAVAILABLE');
  t.ok(refused.headers['retry-after'], 'with Retry-After');

  await producer.send(feedTopic, [snapshotMessage(await readKeySnapshot(db), stackSigningKey())]); // the core is back
  await eventually(async () => (await app.inject('/readyz')).statusCode === 200, 10_000, 'ready again');
  const accepted = await app.inject({
    method: 'POST',
    url: '/v1/play-logs',
    headers: { authorization: `Bearer ${key}` },
    payload: { plays: [bulkPlay()] },
  });
  t.equal(accepted.statusCode, 202);
});
