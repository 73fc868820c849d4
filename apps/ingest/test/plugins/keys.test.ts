import t from 'tap';
import { apiKeyHash, generateApiKey } from '@playlog/schema';
import { KeyTable } from '../../src/plugins/keys.js';

const key = (k: string, over: { id?: number; client?: string; revoked?: boolean } = {}) =>
  ({
    kind: 'key',
    hash: apiKeyHash(k),
    id: over.id ?? 1,
    client: over.client ?? 'acme',
    name: 'main',
    revoked: over.revoked ?? false,
  }) as const;

t.test('a key is found by its hash; the table holds hashes only', async (t) => {
  const table = new KeyTable(60_000);
  const k = generateApiKey();
  table.apply(key(k, { id: 7 }));
  t.same(table.find(k), { id: 7, client: 'acme', name: 'main' });
  t.equal(table.find(generateApiKey()), undefined, 'an unknown key is not found');
});

t.test('a revocation applies at once, even to a key just looked up', async (t) => {
  const table = new KeyTable(60_000);
  const k = generateApiKey();
  table.apply(key(k));
  t.ok(table.find(k), 'found');
  t.ok(table.find(k), 'found again (from the memo)');
  table.apply(key(k, { revoked: true }));
  t.equal(table.find(k), undefined, 'revoked: not found');
});

t.test("a key's new client applies at once, even to a key just looked up", async (t) => {
  const table = new KeyTable(60_000);
  const k = generateApiKey();
  table.apply(key(k, { client: 'acme' }));
  t.equal(table.find(k)?.client, 'acme');
  table.apply(key(k, { client: 'other' }));
  t.equal(table.find(k)?.client, 'other');
});

t.test('past the memo limit, keys are still found (the memo starts again)', async (t) => {
  const table = new KeyTable(60_000);
  const keys = Array.from({ length: 2_500 }, () => generateApiKey());
  keys.forEach((k, i) => table.apply(key(k, { id: i })));
  for (let round = 0; round < 2; round++) {
    const wrong = keys.filter((k, i) => table.find(k)?.id !== i).length;
    t.equal(wrong, 0, `round ${round + 1}: every key found with its own principal`);
  }
  t.equal(table.find(generateApiKey()), undefined, 'an unknown key is still not found');
});
