import t from 'tap';
import { decodePlays, normalizePlay, type Play } from '@playlog/schema';
import { playMessages } from '../src/publish.js';

const ctx = { client: 'acme', apiKeyName: 'main', now: Date.parse('2026-11-26T12:00:00Z'), clockSkewMs: 0 };

function plays(n: number, userAgent = 'Acme/1.0'): Play[] {
  return Array.from({ length: n }, (_, i) => {
    const r = normalizePlay(
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
        userAgent,
      },
      ctx,
    );
    if (!r.ok) throw new Error(r.error.message);
    return r.play;
  });
}

t.test('a request becomes messages of at most N plays, in order, each weighing its plays', async (t) => {
  const all = plays(1201);
  const msgs = playMessages(all, 500);
  t.same(
    msgs.map((m) => m.weight),
    [500, 500, 201],
  );
  const back = msgs.flatMap((m) => decodePlays(m.value).plays);
  t.same(back, all, 'every play, once, in request order');
  for (const m of msgs) {
    const first = decodePlays(m.value).plays[0]!;
    t.equal(m.key, first.playId, 'keyed by the first play id');
    t.same(m.headers, [{ 'play-id': first.playId }, { 'play-count': String(m.weight) }]);
  }
});

t.test('one play: one message keyed by it', async (t) => {
  const [p] = plays(1);
  const msgs = playMessages([p!], 500);
  t.equal(msgs.length, 1);
  t.equal(msgs[0]!.key, p!.playId);
  t.equal(msgs[0]!.weight, 1);
});

t.test('a chunk too big for a Kafka message is halved until it fits', async (t) => {
  // 256-character agents of control characters: each is 1 536 bytes of JSON escapes.
  const all = plays(500, '\u0001'.repeat(256));
  const msgs = playMessages(all, 500);
  t.ok(msgs.length > 1, `split into ${msgs.length} messages`);
  for (const m of msgs) t.ok(m.value.length <= 900_000, `message of ${m.value.length} bytes`);
  t.same(
    msgs.flatMap((m) => decodePlays(m.value).plays),
    all,
  );
});
