import t from 'tap';
import { decodePlay, decodePlays, encodePlay, encodePlays, gateMarker, normalizePlay, type Play, type PlayContext } from '../src/index.js';

const ctx: PlayContext = { client: 'acme', apiKeyName: 'main', now: Date.parse('2026-11-26T12:00:00Z'), clockSkewMs: 0 };

function play(userId: string): Play {
  const r = normalizePlay(
    {
      logType: 'subscription',
      userId,
      country: 'GB',
      trackId: 1,
      releaseId: 2,
      formatId: 3,
      playMode: 'online',
      dateTimePlayed: '2026-11-26T11:00:00.1234567+01:00',
      totalTimePlayed: 30,
    },
    ctx,
  );
  if (!r.ok) throw new Error(r.error.message);
  return r.play;
}

t.test('format 2 carries many plays and reads back the same', async (t) => {
  const plays = [play('a'), play('b'), play('c')];
  const value = encodePlays(plays);
  t.same(JSON.parse(value.toString()).v, 2);
  t.same(decodePlays(value), { plays, refused: [] });
});

t.test('format 1 (one play) is still read', async (t) => {
  const p = play('old');
  t.same(decodePlays(encodePlay(p)), { plays: [p], refused: [] });
  t.same(decodePlay(encodePlay(p)), p);
});

t.test('one bad item of a format-2 message is refused alone, with its reason and its own value', async (t) => {
  const good = [play('a'), play('b')];
  const bad = { ...play('x'), country: 'gb' };
  const value = Buffer.from(JSON.stringify({ v: 2, plays: [good[0], bad, good[1], 7] }));
  const out = decodePlays(value);
  t.same(out.plays, good, 'the good plays around it are kept, in order');
  t.equal(out.refused.length, 2);
  t.match(out.refused[0]!.reason, /^not a play: \/country/);
  t.same(JSON.parse(out.refused[0]!.value.toString()), bad, 'the refused item alone, as sent');
  t.equal(out.refused[1]!.value.toString(), '7');
});

t.test('unreadable messages are refused as a whole', async (t) => {
  t.throws(() => decodePlays(null), /empty message/);
  t.throws(() => decodePlays(Buffer.from('{nope')), /not JSON/);
  t.throws(() => decodePlays(Buffer.from('{"v":2,"plays":{}}')), /\/plays must be an array/);
  t.throws(() => decodePlays(Buffer.from('{"v":3}')), /not a play/);
  t.throws(() => decodePlays(Buffer.from('[1,2]')), /not a play/);
  t.throws(() => decodePlay(encodePlays([play('a'), play('b')])), /not a single play/);
});

t.test('the loader refuses, item by item, what ingest must never have written: NUL, a client that is not a name', async (t) => {
  const good = play('g');
  const value = encodePlays([good, { ...good, userId: 'a\u0000b' }, { ...good, client: '../../x' }, { ...good, userAgent: 'x\u0001' }]);
  const { plays, refused } = decodePlays(value);
  t.same(plays, [good]);
  const reasons = refused.map((r) => r.reason);
  t.equal(reasons.length, 3);
  t.match(reasons[0], /^not a play: \/userId must match pattern/);
  t.match(reasons[1], /^not a play: \/client must match pattern/);
  t.match(reasons[2], /^not a play: \/userAgent must match pattern/);
});

t.test('a gate marker holds no play and names its run; a malformed one is refused', async (t) => {
  const run = '0b8f5a1e-3c1d-4b7e-9a2f-5d6c7e8f9a0b';
  t.same(decodePlays(gateMarker(run)), { plays: [], refused: [], gate: run });
  t.throws(() => decodePlays(Buffer.from('{"v":"gate","run":"x"}')), /not a gate marker/);
});
