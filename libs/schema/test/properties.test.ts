import fc from 'fast-check';
import t from 'tap';
import { decodePlay, encodePlay, instantKey, normalizePlay, parseDateTime, type PlayContext } from '../src/index.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const ctx: PlayContext = { client: 'acme', apiKeyName: 'k', now: NOW, clockSkewMs: 300_000 };
const RUNS = { numRuns: 3_000 };

const validPlay = fc.record({
  logType: fc.constant('subscription'),
  userId: fc.string({ minLength: 1, maxLength: 255 }),
  country: fc.constantFrom('GB', 'us', 'De', 'fr'),
  trackId: fc.oneof(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }).map(String)),
  releaseId: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  formatId: fc.integer({ min: 0, max: 1000 }),
  playMode: fc.constantFrom('online', 'offline', 'online-cached'),
  dateTimePlayed: fc.integer({ min: NOW - 60 * 86_400_000, max: NOW }).map((ms) => new Date(ms).toISOString()),
  totalTimePlayed: fc.integer({ min: 0, max: 100_000 }),
  userAgent: fc.option(fc.string({ maxLength: 600 }), { nil: undefined }),
});

t.test('normalizePlay never throws, whatever the input: it returns a play or a coded error', async (t) => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.anything(),
        fc.dictionary(
          fc.constantFrom(
            'logType',
            'userId',
            'country',
            'trackId',
            'releaseId',
            'formatId',
            'playMode',
            'endReason',
            'dateTimePlayed',
            'totalTimePlayed',
            'userAgent',
            'playId',
            '__proto__',
            'constructor',
          ),
          fc.anything(),
        ),
      ),
      (raw) => {
        const r = normalizePlay(raw, ctx);
        return r.ok ? typeof r.play.playId === 'string' : /^PLAYLOG_[A-Z_]+$/.test(r.error.code) && r.error.message.length > 0;
      },
    ),
    RUNS,
  );
  t.pass('3000 arbitrary inputs');
});

t.test('every valid play is accepted, survives the Kafka codec, and keeps its bounds', async (t) => {
  fc.assert(
    fc.property(validPlay, (raw) => {
      const r = normalizePlay(raw, ctx);
      if (!r.ok) return false;
      const back = decodePlay(encodePlay(r.play));
      return (
        JSON.stringify(back) === JSON.stringify(r.play) &&
        (r.play.userAgent?.length ?? 0) <= 256 &&
        r.play.country === r.play.country.toUpperCase()
      );
    }),
    RUNS,
  );
  t.pass('3000 valid plays');
});

t.test('an instant written in any offset has one identity', async (t) => {
  fc.assert(
    fc.property(
      fc.integer({ min: NOW - 60 * 86_400_000, max: NOW }),
      fc.integer({ min: -14 * 60, max: 14 * 60 }),
      fc.integer({ min: 0, max: 9_999 }),
      (ms, offset, ticks) => {
        const local = new Date(ms + offset * 60_000).toISOString().slice(0, 23);
        const sign = offset < 0 ? '-' : '+';
        const abs = Math.abs(offset);
        const zoned = `${local}${String(ticks).padStart(4, '0')}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
        const utc = `${new Date(ms).toISOString().slice(0, 23)}${String(ticks).padStart(4, '0')}Z`;
        return instantKey(parseDateTime(zoned)!) === instantKey(parseDateTime(utc)!);
      },
    ),
    RUNS,
  );
  t.pass('3000 instants');
});
