import t from 'tap';
import { createPool, playsWriter } from '../src/index.js';
import { databaseAs, freshDatabase, testPlays as plays } from './helpers.js';

t.test('the writer stores each play once, whatever mix of new and stored plays a batch holds', async (t) => {
  const { url, db } = await freshDatabase(t);
  const pool = createPool(databaseAs(url, 'loader'), 1, 'test-writer');
  t.teardown(() => pool.end());
  const writer = playsWriter(pool);
  const count = async () => (await db.query<{ n: number }>('select count(*) as n from plays')).rows[0]!.n;

  t.same(await writer.write(plays(0, 100)), { inserted: 100, duplicates: 0 }, 'new plays');
  t.same(await writer.write(plays(0, 100)), { inserted: 0, duplicates: 100 }, 'the same batch again');
  t.same(await writer.write(plays(50, 100)), { inserted: 50, duplicates: 50 }, 'half stored, half new');
  const twice = plays(1000, 10);
  t.same(await writer.write([...twice, twice[3]!]), { inserted: 10, duplicates: 1 }, 'a play twice in one batch');
  t.equal(await count(), 160);

  // A stored play late in a big batch: the direct COPY fails mid-stream, and the batch is written again
  // through the staging path by a writer that has not met a conflict yet.
  const fresh = playsWriter(pool);
  t.same(await fresh.write(plays(10_000, 5_000)), { inserted: 5_000, duplicates: 0 });
  t.same(await playsWriter(pool).write(plays(6_000, 5_000)), { inserted: 4_000, duplicates: 1_000 }, 'conflict at row 4 001 of 5 000');
  t.equal(await count(), 9_160);
  await db.query('delete from plays where track_id >= 6000');

  // Refused data, on both paths (a fresh writer tries the direct COPY first; this one is on the staging
  // path after the conflicts above): an error with its SQLSTATE, nothing of the batch stored, and the
  // connection still serves.
  const bad = { ...plays(2000, 1)[0]!, playedAt: '2026-02-30T00:00:00.000000Z' };
  for (const [i, w] of [playsWriter(pool), writer].entries()) {
    await t.rejects(w.write([...plays(3000, 5), bad]), { code: '22008' });
    t.equal(await count(), 160 + i * 5, 'a refused batch stores nothing');
    t.same(await w.write(plays(4000 + i * 10, 5)), { inserted: 5, duplicates: 0 }, 'the pool still works after a refusal');
  }
  t.equal(await count(), 170);
});
