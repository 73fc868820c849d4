import t from 'tap';
import { normalizePlay } from '@playlog/schema';
import { formatInstant, playGenerator } from '../src/plays.js';

t.test('generated plays are valid, varied and reproducible', async (t) => {
  const day = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
  const a = playGenerator({ seed: 7, day, users: 100, tracks: 50 });
  const b = playGenerator({ seed: 7, day, users: 100, tracks: 50 });
  const plays = Array.from({ length: 2_000 }, a);
  t.same(Array.from({ length: 2_000 }, b), plays, 'same seed, same plays');
  const ctx = { client: 'demo', apiKeyName: 'k', now: Date.now(), clockSkewMs: 0 };
  const normalized = plays.map((p) => normalizePlay(p, ctx));
  t.equal(normalized.filter((r) => !r.ok).length, 0, 'all valid');
  const ok = normalized.map((r) => (r.ok ? r.play : undefined)!);
  t.ok(
    ok.every((p) => p.playedAt.startsWith(day)),
    'all on the requested day (UTC)',
  );
  t.ok(
    ok.some((p) => p.totalTimePlayed === 0),
    'some 0-second plays',
  );
  t.ok(ok.some((p) => p.logType === 'catalogue') && ok.some((p) => p.logType === 'subscription'), 'both log types');
  t.ok(
    plays.some((p) => typeof p.trackId === 'string'),
    'some numbers as strings',
  );
  t.ok(
    plays.some((p) => /[+-]\d\d:\d\d$/.test(String(p.dateTimePlayed))),
    'some ±hh:mm offsets',
  );
});

t.test('formatInstant writes the same instant in any offset', async (t) => {
  const ms = Date.parse('2026-01-02T03:04:05.678Z');
  t.equal(formatInstant(ms, 0, 9), '2026-01-02T03:04:05.6780009Z');
  t.equal(formatInstant(ms, 60, 9), '2026-01-02T04:04:05.6780009+01:00');
  t.equal(formatInstant(ms, -300, 9), '2026-01-01T22:04:05.6780009-05:00');
});
