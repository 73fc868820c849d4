import t from 'tap';
import { completePlay, decodePlays, playHead, readPlay, type Play, type PlayBatch, type PlayContext } from '@playlog/schema';
import { PlayBatcher, playMessages } from '../src/publish.js';

const ctx: PlayContext = { client: 'acme', apiKeyName: 'main', now: Date.parse('2026-11-26T12:00:00Z'), clockSkewMs: 0 };

/** A request's batch of n checked plays. */
function plays(n: number, userAgent: (i: number) => string = () => 'Acme/1.0', c: PlayContext = ctx): PlayBatch {
  const checked = Array.from({ length: n }, (_, i) => {
    const r = readPlay(
      {
        logType: 'subscription',
        userId: `u${i}`,
        country: 'GB',
        trackId: i,
        releaseId: 1,
        formatId: 1,
        playMode: 'online',
        dateTimePlayed: '2026-11-26T11:00:00Z',
        totalTimePlayed: 30,
        userAgent: userAgent(i),
      },
      c,
    );
    if (!r.ok) throw new Error(r.error.message);
    return r.play;
  });
  return { head: playHead(c), plays: checked };
}

/** The plays as the loader stores them. */
const stored = (...batches: PlayBatch[]): Play[] => batches.flatMap((b) => b.plays.map((p) => completePlay(p, b.head)));

t.test('a request becomes messages of at most N plays, in order, each weighing its plays', async (t) => {
  const all = plays(1201);
  const msgs = playMessages([all], 500);
  t.same(
    msgs.map((m) => m.weight),
    [500, 500, 201],
  );
  const back = msgs.flatMap((m) => decodePlays(m.value).plays);
  t.same(back, stored(all), 'every play, once, in request order');
  for (const m of msgs) {
    t.equal(m.key, undefined, 'no key: the sticky partitioner picks the partition');
    t.same(m.headers, [{ 'play-count': String(m.weight) }]);
  }
});

t.test('one play: one message', async (t) => {
  const one = plays(1);
  const msgs = playMessages([one], 500);
  t.equal(msgs.length, 1);
  t.same(decodePlays(msgs[0]!.value).plays, stored(one));
  t.equal(msgs[0]!.weight, 1);
});

t.test('a chunk too big for a Kafka message is halved until it fits', async (t) => {
  // 256-character agents, each its own (a message holds each agent once), mostly backslashes: about
  // 510 bytes of JSON escapes each, so 2 000 plays pass 900 kB.
  const all = plays(2_000, (i) => `${String(i).padStart(4, '0')}${'\\'.repeat(252)}`);
  const msgs = playMessages([all], 2_000);
  t.ok(msgs.length > 1, `split into ${msgs.length} messages`);
  for (const m of msgs) t.ok(m.value.length <= 900_000, `message of ${m.value.length} bytes`);
  t.same(
    msgs.flatMap((m) => decodePlays(m.value).plays),
    stored(all),
  );
});

t.test("requests of other clients share a message, each play under its own request's head", async (t) => {
  const a = plays(3);
  const b = plays(4, () => 'Other/2.0', { ...ctx, client: 'other', apiKeyName: 'k2', now: ctx.now + 7, synthetic: true });
  const msgs = playMessages([a, b, a], 5);
  t.same(
    msgs.map((m) => m.weight),
    [5, 5],
    '10 plays in messages of 5, the middle request split across them',
  );
  const back = msgs.flatMap((m) => decodePlays(m.value).plays);
  t.same(back, stored(a, b, a));
  t.same(
    back.map((p) => `${p.client}/${p.apiKeyName}/${p.synthetic}`),
    [...Array(3).fill('acme/main/false'), ...Array(4).fill('other/k2/true'), ...Array(3).fill('acme/main/false')],
  );
});

/** A PlayBatcher whose sends are recorded (plays per message) and settled by the test. */
function recordingBatcher(perMessage: number, fail: (sendIndex: number) => boolean = () => false) {
  const sends: number[][] = [];
  const batcher = new PlayBatcher(async (messages) => {
    const i = sends.push(messages.map((m) => m.weight ?? 1)) - 1;
    if (fail(i)) throw new Error(`send ${i} failed`);
  }, perMessage);
  return { sends, batcher };
}

t.test('requests answered in the same turn share messages; each write resolves when its group is taken', async (t) => {
  const { sends, batcher } = recordingBatcher(500);
  await Promise.all(Array.from({ length: 10 }, () => batcher.write(plays(1))));
  t.same(sends, [[10]], 'one send of one 10-play message for 10 one-play requests');
  await batcher.write(plays(1));
  t.same(sends, [[10], [1]], 'a later turn is another send');
});

t.test('groups hold at most N plays; a request of N or more is written alone at once', async (t) => {
  const { sends, batcher } = recordingBatcher(5);
  const small = Promise.all([batcher.write(plays(2)), batcher.write(plays(2)), batcher.write(plays(2))]);
  const big = batcher.write(plays(12));
  t.same(sends, [[5, 5, 2]], 'the big request went at once, in chunks of 5');
  await Promise.all([small, big]);
  t.same(sends, [[5, 5, 2], [4], [2]], 'then the small ones: 2 + 2, then 2 (2 + 2 + 2 > 5)');
});

t.test('a failed send fails every request of its group, and only those', async (t) => {
  const { sends, batcher } = recordingBatcher(4, (i) => i === 0);
  const results = await Promise.allSettled([batcher.write(plays(2)), batcher.write(plays(2)), batcher.write(plays(3))]);
  t.same(sends, [[4], [3]]);
  t.same(
    results.map((r) => r.status),
    ['rejected', 'rejected', 'fulfilled'],
  );
});

t.test("the group's plays are the requests' plays, in order", async (t) => {
  let seen: Play[] = [];
  const batcher = new PlayBatcher(async (messages) => {
    seen = messages.flatMap((m) => decodePlays(m.value).plays);
  }, 500);
  const a = plays(3);
  const b = plays(2, () => 'Other/2.0');
  await Promise.all([batcher.write(a), batcher.write(b)]);
  t.same(seen, stored(a, b));
});
