import t from 'tap';
import { API_KEY_FORMAT, apiKeyHash } from '@playlog/schema';
import {
  createPool,
  dropPartitionsBefore,
  ensurePartitions,
  keysRepository,
  migrateLatest,
  partitionDaysPresent,
  playsWriter,
  readKeySnapshot,
} from '../src/index.js';
import { databaseAs, freshDatabase, testPlays } from './helpers.js';

t.test('migrations are idempotent; partitions are made ahead, on demand, and dropped past retention', async (t) => {
  const { url, db } = await freshDatabase(t);
  t.same(await migrateLatest(databaseAs(url, 'migrate')), [], 'second migrate applies nothing');
  const pool = createPool(databaseAs(url, 'loader'), 2, 'test');
  t.teardown(() => pool.end());

  await ensurePartitions(pool, '2026-01-30', 3);
  await ensurePartitions(pool, '2026-01-31', 3); // overlapping: no error
  t.same(await partitionDaysPresent(pool), ['2026-01-30', '2026-01-31', '2026-02-01', '2026-02-02']);

  const play = testPlays(0, 1)[0]!;
  const writer = playsWriter(pool);
  t.same(await writer.write([play, play]), { inserted: 1, duplicates: 1 }, 'a duplicate inside one batch is absorbed');
  t.same(await writer.write([play]), { inserted: 0, duplicates: 1 }, 'and across batches');
  t.ok((await partitionDaysPresent(pool)).includes(play.playedAt.slice(0, 10)), "today's partition made on demand");

  t.same(await dropPartitionsBefore(pool, '2026-02-01'), ['2026-01-30', '2026-01-31']);
  t.notOk((await partitionDaysPresent(pool)).includes('2026-01-31'));
  t.equal((await db.query('select count(*) as n from plays')).rows[0].n, 1, 'recent plays untouched');
});

t.test('API keys: stored hashed, published to the feed as hashes, revocable', async (t) => {
  const { db } = await freshDatabase(t);
  const keys = keysRepository(db);
  const { id, key } = await keys.create('acme', 'main');
  t.match(key, API_KEY_FORMAT);
  const row = (await db.query('select * from api_keys where id = $1', [id])).rows[0];
  t.not(row.key_hash.toString('utf8'), key, 'the key itself is not stored');
  t.notMatch(JSON.stringify(row), key);
  const first = await readKeySnapshot(db);
  t.same(first.keys, [{ hash: apiKeyHash(key), id, client: 'acme', name: 'main' }], 'the feed carries the hash');
  t.equal(await keys.revoke(id), true);
  t.equal(await keys.revoke(id), false, 'already revoked');
  const second = await readKeySnapshot(db);
  t.same(second.keys, [], 'a revoked key is not in the next snapshot');
  t.ok(second.generation > first.generation, 'whose generation is greater');
  t.ok(first.generation > Date.now() - 60_000, 'at least the clock in ms (a restored database still outnumbers the edge)');
  await t.rejects(keys.create('Bad Name!', 'x'), /client must be/);
  await t.rejects(keys.create('acme', 'tab\there'), /name must not contain control characters/);
  await t.rejects(keys.create('acme', ''), /name must be 1 to 64 characters/);
});
