// The play rules have one source: libs/schema's PlayInput, which the OpenAPI document shows. These
// properties check that what it accepts is exactly what readPlay (both routes' per-play check) accepts.
// Over the routes themselves: bulk.int.test.ts.
import fc from 'fast-check';
import t from 'tap';
import { Compile } from 'typebox/compile';
import { PlayInput, readPlay, type PlayContext } from '@playlog/schema';
import { mixedPlays } from '@playlog/testing';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const ctx: PlayContext = { client: 'acme', apiKeyName: 'k', now: NOW, clockSkewMs: 300_000 };
const documented = Compile(PlayInput);

t.test('the documented schema accepts exactly the plays readPlay accepts (dates inside the window)', async (t) => {
  let accepted = 0;
  let refused = 0;
  fc.assert(
    fc.property(mixedPlays(NOW), (p) => {
      const bySchema = documented.Check(p);
      const r = readPlay(p, ctx);
      if (bySchema) accepted++;
      else refused++;
      return bySchema === r.ok && (r.ok || ['PLAYLOG_FIELD_MISSING', 'PLAYLOG_FIELD_INVALID'].includes(r.error.code));
    }),
    { numRuns: 20_000 },
  );
  t.ok(accepted > 2_000 && refused > 2_000, `both sides exercised: ${accepted} accepted, ${refused} refused`);
});

t.test('outside the window, the schema still accepts and readPlay refuses with the window code only', async (t) => {
  const base = {
    logType: 'subscription',
    userId: 'u',
    country: 'GB',
    trackId: 1,
    releaseId: 2,
    formatId: 3,
    totalTimePlayed: 4,
    playMode: 'online',
  };
  for (const dateTimePlayed of ['2026-09-01T00:00:00Z', '2026-11-26T12:06:00Z']) {
    const p = { ...base, dateTimePlayed };
    t.ok(documented.Check(p), dateTimePlayed);
    t.match(readPlay(p, ctx), { ok: false, error: { code: 'PLAYLOG_DATE_OUT_OF_WINDOW', field: 'dateTimePlayed' } });
  }
});
