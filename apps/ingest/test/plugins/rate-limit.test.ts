import t from 'tap';
import type { HttpError } from '../../src/errors.js';
import { ClientRateLimit } from '../../src/plugins/rate-limit.js';

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

t.test('refuseIfEmpty: refuses before the body is read only when no request could pass', async (t) => {
  let now = 0;
  const rl = new ClientRateLimit(100, 200, () => now);
  rl.refuseIfEmpty('a');
  rl.take('a', 199.5);
  t.match(
    thrown(() => rl.refuseIfEmpty('a')),
    { statusCode: 429, headers: { 'Retry-After': '1' } },
    'half a play left: every request is refused',
  );
  now = 10;
  rl.refuseIfEmpty('a'); // one play back after 10 ms: a one-play request may pass, so the body is read
  t.match(
    thrown(() => rl.take('a', 2)),
    { statusCode: 429 },
    'and take() decides on the real count',
  );
  new ClientRateLimit(0, 1).refuseIfEmpty('x');
});
