import t from 'tap';
import { midnightWaitMs } from '../src/index.js';

const at = (iso: string) => Date.parse(iso);

t.test('midnightWaitMs: no wait most of the day, past midnight (plus afterMs) just before it', async (t) => {
  t.equal(midnightWaitMs(at('2026-11-27T12:00:00Z'), 180_000), 0, 'noon');
  t.equal(midnightWaitMs(at('2026-11-27T23:56:59Z'), 180_000), 0, 'just outside the margin');
  t.equal(midnightWaitMs(at('2026-11-27T23:58:00Z'), 180_000), 122_000, 'inside the margin: to midnight, then 2 s');
  t.equal(midnightWaitMs(at('2026-11-27T23:59:59.500Z'), 15_000, 1_000), 1_500);
  t.equal(midnightWaitMs(at('2026-11-28T00:00:00.500Z'), 180_000), 1_500, 'just after midnight: until afterMs has passed');
  t.equal(midnightWaitMs(at('2026-11-28T00:00:02Z'), 180_000), 0);
});
