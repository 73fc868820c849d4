import t from 'tap';
import { apiKeyHash, generateApiKey, type FeedKey, type KeySnapshot } from '@playlog/schema';
import { KeyTable } from '../../src/plugins/keys.js';

const key = (k: string, over: { id?: number; client?: string } = {}): FeedKey => ({
  hash: apiKeyHash(k),
  id: over.id ?? 1,
  client: over.client ?? 'acme',
  name: 'main',
});
let generation = 0;
const snapshot = (keys: FeedKey[], issuedAt = Date.now()): KeySnapshot => ({ generation: ++generation, issuedAt, keys });

t.test('a key is found by its hash; the table holds hashes only', async (t) => {
  const table = new KeyTable(60_000);
  const k = generateApiKey();
  t.ok(table.apply(snapshot([key(k, { id: 7 })])));
  t.same(table.find(k), { id: 7, client: 'acme', name: 'main' });
  t.equal(table.find(generateApiKey()), undefined, 'an unknown key is not found');
});

t.test('a key the next snapshot does not list is gone at once, even one just looked up', async (t) => {
  const table = new KeyTable(60_000);
  const [k, other] = [generateApiKey(), generateApiKey()];
  table.apply(snapshot([key(k), key(other, { id: 2 })]));
  t.ok(table.find(k), 'found');
  t.ok(table.find(k), 'found again (from the memo)');
  table.apply(snapshot([key(other, { id: 2 })]));
  t.equal(table.find(k), undefined, 'revoked (not listed): not found');
  t.ok(table.find(other), 'the key still listed is still found');
});

t.test("a key's new client applies at once, even to a key just looked up", async (t) => {
  const table = new KeyTable(60_000);
  const k = generateApiKey();
  table.apply(snapshot([key(k, { client: 'acme' })]));
  t.equal(table.find(k)?.client, 'acme');
  table.apply(snapshot([key(k, { client: 'other' })]));
  t.equal(table.find(k)?.client, 'other');
});

t.test('a snapshot not newer than the one held changes nothing: a replay cannot bring a revoked key back', async (t) => {
  const table = new KeyTable(60_000);
  const k = generateApiKey();
  const before = snapshot([key(k)]); // read before the revocation…
  const after = snapshot([]); // …and after it, published first
  t.ok(table.apply(after));
  t.notOk(table.apply(before), 'the older snapshot, arriving late, is refused');
  t.equal(table.find(k), undefined, 'the revoked key stays revoked');
  t.notOk(table.apply(after), 'the same snapshot again is refused too');
  t.equal(table.snapshot?.generation, after.generation);
});

t.test('usable only while the snapshot held is younger than the stale bound', async (t) => {
  let now = 1_000_000;
  const table = new KeyTable(60_000, () => now);
  t.match(table.usable('keys'), { ok: false, why: /still loading/ });
  table.markLoaded();
  t.match(table.usable('keys'), { ok: false, why: /no verified key snapshot/ });
  table.apply(snapshot([], now));
  t.same(table.usable('keys'), { ok: true });
  now += 61_000;
  t.match(table.usable('keys'), { ok: false, why: /last confirmed 61 s ago, over KEY_STALE_SECONDS=60/ });
});

t.test('past the memo limit, keys are still found (the memo starts again)', async (t) => {
  const table = new KeyTable(60_000);
  const keys = Array.from({ length: 2_500 }, () => generateApiKey());
  table.apply(snapshot(keys.map((k, i) => key(k, { id: i }))));
  for (let round = 0; round < 2; round++) {
    const wrong = keys.filter((k, i) => table.find(k)?.id !== i).length;
    t.equal(wrong, 0, `round ${round + 1}: every key found with its own principal`);
  }
  t.equal(table.find(generateApiKey()), undefined, 'an unknown key is still not found');
});
