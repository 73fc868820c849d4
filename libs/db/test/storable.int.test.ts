import fc from 'fast-check';
import t from 'tap';
import { decodePlays, encodePlays, normalizePlay, type Play } from '@playlog/schema';
import { createPool, playsWriter } from '../src/index.js';
import { databaseAs, freshDatabase } from './helpers.js';

/**
 * Every play ingest accepts is storable by the loader: generated inputs (any Unicode, control
 * characters, unpaired surrogates, long strings), the ones normalizePlay accepts go through the Kafka
 * codec and the loader's COPY into the real Postgres, and come back unchanged. Before control
 * characters were refused, a NUL in a userId was accepted here and refused by Postgres (22021).
 */
const NOW = Date.now();
const text = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: 'binary', minLength: 1, maxLength }),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength }),
    fc.constantFrom(
      'a\u0000b',
      '\u0000',
      'x\ty',
      '\u001b[0m',
      'del\u007f',
      'half\ud800',
      '=cmd|calc',
      '"quoted", comma',
      'back\\slash',
      '\\N',
    ),
  );
const input = fc.record({
  logType: fc.constantFrom('subscription', 'catalogue'),
  userId: text(300),
  country: fc.constantFrom('GB', 'us', 'De'),
  trackId: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  releaseId: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  formatId: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  playMode: fc.constantFrom('online', 'offline', 'online-cached'),
  endReason: fc.constantFrom('naturalEnd', 'userSkipped', 'other'),
  dateTimePlayed: fc.integer({ min: NOW - 60 * 86_400_000, max: NOW }).map((ms) => new Date(ms).toISOString()),
  totalTimePlayed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  userAgent: fc.option(text(400), { nil: undefined }),
  playId: fc.option(text(140), { nil: undefined }),
});

t.test('every play normalizePlay accepts survives the Kafka codec and the loader into Postgres', async (t) => {
  const { url, db } = await freshDatabase(t);
  const pool = createPool(databaseAs(url, 'loader'), 1, 'test-storable');
  t.teardown(() => pool.end());
  const writer = playsWriter(pool);
  const ctx = { client: 'acme', apiKeyName: 'prop', now: NOW, clockSkewMs: 0 };
  const accepted: Play[] = [];
  const seen = new Set<string>();
  let refused = 0;
  fc.assert(
    fc.property(fc.array(input, { minLength: 1, maxLength: 40 }), (raws) => {
      for (const raw of raws) {
        const r = normalizePlay(raw, ctx);
        if (!r.ok) refused++;
        // One play per identity: a client playId reused at another instant is a second row (the
        // primary key is (play_id, played_at); see docs/reliability.md, known limits).
        else if (!seen.has(r.play.playId)) {
          seen.add(r.play.playId);
          accepted.push(r.play);
        }
      }
    }),
    { numRuns: 500, seed: 13 },
  );
  t.ok(accepted.length > 1_000 && refused > 100, `both kinds generated: ${accepted.length} accepted, ${refused} refused`);
  const decoded = decodePlays(encodePlays(accepted));
  t.same(decoded.refused, [], 'the loader reads every accepted play back as a play');
  const written = await writer.write(decoded.plays);
  t.same(written, { inserted: accepted.length, duplicates: 0 }, 'stored in one COPY, no row refused by the database');
  const { rows } = await db.query('select play_id, user_id, user_agent, client_play_id from plays');
  const byId = new Map(rows.map((r) => [r.play_id as string, r]));
  const changed = decoded.plays.filter((p) => {
    const r = byId.get(p.playId);
    return !r || r.user_id !== p.userId || r.user_agent !== p.userAgent || r.client_play_id !== p.clientPlayId;
  });
  t.same(changed, [], 'every text field reads back exactly as accepted');
});
