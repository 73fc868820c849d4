import t from 'tap';
import { ClientRateLimit } from '../src/plugins/rate-limit.js';

t.test('token bucket in plays per client', async (t) => {
  let now = 0;
  const rl = new ClientRateLimit(100, 200, () => now);
  rl.take('a', 200);
  t.throws(() => rl.take('a', 1), { statusCode: 429, code: 'PLAYLOG_RATE_LIMITED' }, 'burst spent');
  rl.take('b', 150);
  now = 500;
  rl.take('a', 50);
  t.throws(() => rl.take('a', 10), 'refilled 50 in 0.5 s, all taken');
  try {
    rl.take('a', 100);
  } catch (err) {
    t.equal((err as { headers: Record<string, string> }).headers['Retry-After'], '1', 'seconds until 100 plays are back');
  }
  t.throws(
    () => rl.take('c', 1_000),
    { headers: { 'Retry-After': '10' } },
    'a request larger than the burst can never pass; says how long it would take',
  );
  new ClientRateLimit(0, 1).take('x', 1e9);
  t.pass('rate 0 disables the limit');
});
