import t from 'tap';
import { commitOffsets } from '../src/loop.js';
import { Throttle } from '../src/throttle.js';

t.test('rate ceiling: the next batch waits until the rows fit the ceiling', async (t) => {
  let now = 0;
  const th = new Throttle(1_000, 60_000, () => now);
  t.equal(th.batchLimit(5_000), 1_000, 'a batch is at most a second of rows');
  th.started(500);
  now = 50;
  th.finished(50);
  t.equal(th.delayMs(), 450, '500 rows at 1000/s: next batch at t=500ms');
  th.started(1_000);
  t.equal(th.delayMs(), 1_450, 'a write started before the previous one ended is spaced after it');
  now = 1_600;
  t.equal(th.delayMs(), 0);
});

t.test('adaptive: a write slower than the target delays the next in proportion', async (t) => {
  let now = 0;
  const th = new Throttle(0, 1_000, () => now);
  t.equal(th.batchLimit(5_000), 5_000, 'no ceiling: the configured batch size');
  th.started(5_000);
  now = 3_000;
  th.finished(3_000);
  t.equal(th.delayMs(), 2_000, '2 s over target: wait 2 s');
  const fast = new Throttle(0, 1_000, () => now);
  fast.started(5_000);
  fast.finished(100);
  t.equal(fast.delayMs(), 0, 'fast writes are not delayed');
});

t.test('commit offsets are one past the highest per partition', async (t) => {
  const m = (partition: number, offset: number) => ({ topic: 'x', partition, offset, value: null, size: 0 });
  t.same(
    commitOffsets([m(0, 5), m(1, 2), m(0, 7), m(0, 6), m(1, 1)] as never).sort((a, b) => a.partition - b.partition),
    [
      { topic: 'x', partition: 0, offset: 8 },
      { topic: 'x', partition: 1, offset: 3 },
    ],
  );
});
