import { randomBytes } from 'node:crypto';
import t from 'tap';
import {
  DecodeError,
  decodePlay,
  decodePlays,
  encodePlay,
  encodePlays,
  gateMarker,
  gateMarkerValid,
  gateSecret,
  normalizePlay,
  type Play,
  type PlayContext,
} from '../src/index.js';

const ctx: PlayContext = { client: 'acme', apiKeyName: 'main', now: Date.parse('2026-11-26T12:00:00Z'), clockSkewMs: 0 };

function play(userId: string): Play {
  return normalised({ userId });
}

function normalised(raw: Record<string, unknown>, over: Partial<PlayContext> = {}): Play {
  const r = normalizePlay(
    {
      logType: 'subscription',
      userId: 'u',
      country: 'GB',
      trackId: 1,
      releaseId: 2,
      formatId: 3,
      playMode: 'online',
      dateTimePlayed: '2026-11-26T11:00:00.1234567+01:00',
      totalTimePlayed: 30,
      ...raw,
    },
    { ...ctx, ...over },
  );
  if (!r.ok) throw new Error(r.error.message);
  return r.play;
}

t.test('format 3 (what ingest writes) reads back exactly the plays normalizePlay made, playId and playedAt recomputed', async (t) => {
  const plays = [
    play('a'),
    normalised({ userId: 'b', playId: 'client-own-id-1', userAgent: 'Acme/1.0' }),
    normalised({ logType: 'catalogue', userId: 'c', playMode: null, endReason: 'userSkipped', userAgent: 'Acme/1.0' }),
    normalised({ userId: 'd', dateTimePlayed: '2026-11-26T10:59:59.9999999Z', userAgent: 'Other/2' }),
    // Merged requests: another key, another instant received, a smoke play.
    normalised({ userId: 'e' }, { apiKeyName: 'second', now: Date.parse('2026-11-26T12:00:01Z') }),
    normalised({ userId: 'f' }, { synthetic: true }),
  ];
  const value = encodePlays(plays);
  const m = JSON.parse(value.toString()) as { v: number; h: unknown[]; hi: number[]; uad: string[] };
  t.equal(m.v, 3);
  t.equal(m.h.length, 3, 'one header row per (client, key name, receivedAt, synthetic)');
  t.same(m.hi, [0, 0, 0, 0, 1, 2]);
  t.same(m.uad, ['Acme/1.0', 'Other/2'], 'each user agent once');
  t.notMatch(value.toString(), plays[0]!.playId, 'no play id on the wire');
  t.same(decodePlays(value), { plays, refused: [] });
  const one = [play('solo')];
  t.notOk('hi' in JSON.parse(encodePlays(one).toString()), 'one request: no per-play header index');
  t.same(decodePlays(encodePlays(one)).plays, one);
});

t.test('format 3 is a fraction of format 2 for the same plays (bytes before compression)', async (t) => {
  const plays = Array.from({ length: 100 }, (_, i) =>
    normalised({ userId: `user-${i * 7919}`, trackId: 1000 + i, userAgent: 'AcmeMusic/5.2.1 (Android 14; Pixel 8)' }),
  );
  const v2 = Buffer.from(JSON.stringify({ v: 2, plays })).length;
  const v3 = encodePlays(plays).length;
  t.ok(v3 < 0.4 * v2, `format 3 ${v3} B against format 2 ${v2} B`);
});

t.test('format 2 (objects) is still read', async (t) => {
  const plays = [play('a'), play('b'), play('c')];
  t.same(decodePlays(Buffer.from(JSON.stringify({ v: 2, plays }))), { plays, refused: [] });
});

t.test('one bad play of a format-3 message is refused alone, with its reason; a broken message as a whole', async (t) => {
  const plays = [play('a'), play('b'), play('c')];
  const m = JSON.parse(encodePlays(plays).toString()) as Record<string, unknown[]>;
  m.c![1] = 'gb';
  const bad = decodePlays(Buffer.from(JSON.stringify(m)));
  t.same(bad.plays, [plays[0], plays[2]], 'its neighbours are kept, in order');
  t.equal(bad.refused.length, 1);
  t.match(bad.refused[0]!.reason, /^not a play: \/country/);
  t.equal(JSON.parse(bad.refused[0]!.value.toString()).userId, 'b', 'the refused play alone, rebuilt');
  m.c![1] = 'GB';
  m.d![2] = 'yesterday';
  const when = decodePlays(Buffer.from(JSON.stringify(m)));
  t.equal(when.plays.length, 2);
  t.match(when.refused[0]!.reason, /dateTimePlayed is not a zoned ISO 8601 instant/);
  t.throws(() => decodePlays(Buffer.from(JSON.stringify({ ...m, u: ['a'] }))), /not a format-3 message: \/u must be an array of 3/);
  t.throws(() => decodePlays(Buffer.from(JSON.stringify({ ...m, h: [] }))), /\/h must be a non-empty array/);
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
  t.throws(() => decodePlays(Buffer.from('{"v":3}')), /not a format-3 message/);
  t.throws(() => decodePlays(Buffer.from('{"v":4}')), /not a play/);
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

t.test('the loader refuses, item by item, a playMode, endReason or receivedAt Postgres or the reports would not take', async (t) => {
  const good = play('g');
  const odd = (over: Record<string, unknown>) => ({ ...good, ...over }) as Play;
  const bad = [
    odd({ playMode: 'on\u0000line' }),
    odd({ endReason: 'bogus' }),
    odd({ receivedAt: '2026-02-30T00:00:00.000Z' }),
    odd({ receivedAt: 'yesterday' }),
    odd({ receivedAt: '0000-01-01T00:00:00.000Z' }),
  ];
  const { plays, refused } = decodePlays(encodePlays([good, ...bad]));
  t.same(plays, [good], 'the good play kept');
  t.same(
    refused.map((r) => r.reason.replace(/ must .*/, '')),
    ['/playMode', '/endReason', '/receivedAt', '/receivedAt', '/receivedAt'].map((p) => `not a play: ${p}`),
  );
  t.equal(JSON.parse(refused[0]!.value.toString()).playMode, 'on\u0000line', 'each refused alone, as it came');
});

t.test('a gate marker holds no play and names its run; only the secret it was made with authenticates it', async (t) => {
  const run = '0b8f5a1e-3c1d-4b7e-9a2f-5d6c7e8f9a0b';
  const secret = gateSecret(randomBytes(32).toString('base64'));
  const { plays, refused, gate } = decodePlays(gateMarker(run, 2, secret));
  t.same({ plays, refused }, { plays: [], refused: [] });
  t.match(gate, { run, partition: 2 });
  t.ok(gateMarkerValid(gate!, 2, secret), 'valid in its own partition, with its secret');
  t.notOk(gateMarkerValid(gate!, 3, secret), 'copied into another partition: not valid');
  t.notOk(gateMarkerValid(gate!, 2, gateSecret(randomBytes(32).toString('base64'))), 'made with another secret: not valid');
  t.notOk(gateMarkerValid({ ...gate!, at: new Date().toISOString() }, 2, secret), 'its time changed: not valid');
  const forged = { v: 'gate', run, p: 2, at: gate!.at, mac: Buffer.alloc(32).toString('base64') };
  t.notOk(gateMarkerValid(decodePlays(Buffer.from(JSON.stringify(forged))).gate!, 2, secret), 'a made-up MAC: not valid');
  t.throws(() => decodePlays(Buffer.from('{"v":"gate","run":"x"}')), /not a gate marker/);
  t.throws(() => decodePlays(Buffer.from(`{"v":"gate","run":"${run}"}`)), /\/p, \/at and \/mac are required/);
  t.throws(() => gateSecret('c2hvcnQ='), /at least 32 bytes/);
});

t.test('a message that cannot be read as a whole is a DecodeError saying which kind', async (t) => {
  for (const [value, kind] of [
    [null, 'unparsable'],
    [Buffer.alloc(0), 'unparsable'],
    [Buffer.from('{nope'), 'unparsable'],
    [Buffer.from('{"v":3}'), 'invalid'],
    [Buffer.from('{"v":2,"plays":{}}'), 'invalid'],
    [Buffer.from('[1,2]'), 'invalid'],
    [Buffer.from('{"v":"gate","run":"x"}'), 'invalid'],
  ] as const) {
    const err = t.throws(() => decodePlays(value)) as DecodeError;
    t.ok(err instanceof DecodeError, String(value));
    t.equal(err.kind, kind, String(value));
  }
});

t.test('formats 1 and 2 pass the checks of format 3: the id and instant are computed again, the window holds', async (t) => {
  const real = play('victim');
  // A writer of the topic that chooses a play id (to make the real play a duplicate) and a UTC instant.
  const forged = { ...play('forger'), playId: real.playId, playedAt: '2020-01-01T00:00:00.000000Z' };
  for (const value of [Buffer.from(JSON.stringify({ v: 2, plays: [forged] })), encodePlay(forged)]) {
    const [read] = decodePlays(value, { now: ctx.now, skewMs: 300_000 }).plays;
    t.not(read!.playId, real.playId, 'the id is not the one written: it is computed from the fields');
    t.equal(read!.playId, play('forger').playId, 'the forger’s own play’s id');
    t.equal(read!.playedAt, play('forger').playedAt, 'the instant from dateTimePlayed, not the one written');
  }

  const old = { ...real, dateTimePlayed: '2026-09-01T00:00:00Z' }; // 86 days before its receipt
  const rules = { now: ctx.now, skewMs: 300_000 };
  t.match(decodePlays(Buffer.from(JSON.stringify({ v: 2, plays: [old] })), rules).refused, [
    { reason: /outside the 61-day window of its receipt/ },
  ]);
  t.throws(() => decodePlay(encodePlay(old), rules), /outside the 61-day window/, 'format 1 too');
  t.match(decodePlays(encodePlays([old]), rules).refused, [{ reason: /outside the 61-day window/ }], 'and format 3');
  const ahead = { ...real, dateTimePlayed: '2026-11-26T12:06:00Z' }; // 6 min after its receipt, skew 5 min
  t.match(decodePlays(encodePlays([ahead]), rules).refused, [{ reason: /outside the 61-day window/ }], 'dated after its receipt + skew');
  const future = { ...real, receivedAt: '2027-01-01T00:00:00.000Z', dateTimePlayed: '2027-01-01T00:00:00Z' };
  t.match(decodePlays(encodePlays([future]), rules).refused, [{ reason: /receivedAt 2027-01-01T00:00:00.000Z is in the future/ }]);
  const [deadLetter] = decodePlays(Buffer.from(JSON.stringify({ v: 2, plays: [old] })), rules).refused;
  t.equal(deadLetter!.value.toString(), JSON.stringify(old), 'dead-lettered as it came');
});
