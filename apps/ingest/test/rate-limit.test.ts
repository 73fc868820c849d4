import t from 'tap';
import type { HttpError } from '../src/errors.js';
import { ClientRateLimit } from '../src/plugins/rate-limit.js';

/** The error `fn` throws; a test failure if it throws nothing. */
function thrown(fn: () => void): HttpError {
  try {
    fn();
  } catch (err) {
    return err as HttpError;
  }
  throw new Error('expected a 429');
}

t.test('token bucket in plays per client', async (t) => {
  let now = 0;
  const rl = new ClientRateLimit(100, 200, () => now);
  rl.take('a', 200);
  t.match(
    thrown(() => rl.take('a', 1)),
    { statusCode: 429, code: 'PLAYLOG_RATE_LIMITED' },
    'burst spent',
  );
  rl.take('b', 150);
  now = 500;
  rl.take('a', 50);
  t.equal(thrown(() => rl.take('a', 10)).statusCode, 429, 'refilled 50 in 0.5 s, all taken');
  t.equal(thrown(() => rl.take('a', 100)).headers['Retry-After'], '1', 'seconds until 100 plays are back');
  t.equal(
    thrown(() => rl.take('c', 1_000)).headers['Retry-After'],
    '10',
    'larger than the burst: never passes; says how long 1000 plays take',
  );
  new ClientRateLimit(0, 1).take('x', 1e9);
  t.pass('rate 0 disables the limit');
});
