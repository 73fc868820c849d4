import t from 'tap';
import { decodePlay, encodePlay, fromV12Item, normalizePlay, type PlayContext } from '../src/index.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');
const ctx: PlayContext = { client: 'acme', apiKeyName: 'main', now: NOW, clockSkewMs: 300_000 };

const play = (over: Record<string, unknown> = {}) => ({
  logType: 'subscription',
  userId: 'user-1',
  country: 'gb',
  trackId: 12345,
  releaseId: 678,
  formatId: 26,
  playMode: 'online',
  dateTimePlayed: '2026-11-26T11:39:28.8981203Z',
  totalTimePlayed: 31,
  userAgent: 'Acme/1.0',
  ...over,
});

function ok(raw: unknown) {
  const r = normalizePlay(raw, ctx);
  if (!r.ok) throw new Error(`expected valid: ${r.error.message}`);
  return r.play;
}

function err(raw: unknown) {
  const r = normalizePlay(raw, ctx);
  if (r.ok) throw new Error('expected invalid');
  return r.error;
}

t.test('normalises a valid play', async (t) => {
  const p = ok(play());
  t.equal(p.country, 'GB', 'country upper-cased');
  t.equal(p.client, 'acme');
  t.equal(p.playedAt, '2026-11-26T11:39:28.898120Z');
  t.equal(p.dateTimePlayed, '2026-11-26T11:39:28.8981203Z', 'kept exactly as sent');
  t.equal(p.playMode, 'online');
  t.equal(p.endReason, null);
  t.match(p.playId, /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.same(decodePlay(encodePlay(p)), p, 'survives the Kafka codec');
});

t.test('integers may arrive as decimal strings, nothing else', async (t) => {
  const p = ok(play({ trackId: '12', totalTimePlayed: '0', releaseId: '0678' }));
  t.equal(p.trackId, 12);
  t.equal(p.totalTimePlayed, 0, '0-second plays are valid');
  t.equal(p.releaseId, 678);
  for (const bad of ['12.5', '1e3', ' 12', '-1', '', 12.5, -1, true, null, [], {}, '99999999999', 2 ** 31]) {
    t.equal(err(play({ trackId: bad })).field, 'trackId', `trackId ${JSON.stringify(bad)}`);
  }
  t.equal(err(play({ trackId: null })).code, 'PLAYLOG_FIELD_MISSING');
  t.equal(err(play({ trackId: 'x' })).code, 'PLAYLOG_FIELD_INVALID');
});

t.test('date window: less than 61 days old, not in the future beyond the skew', async (t) => {
  const iso = (ms: number) => new Date(ms).toISOString();
  const day = 86_400_000;
  t.ok(ok(play({ dateTimePlayed: iso(NOW - 61 * day + 1000) })), 'just inside 61 days');
  t.equal(err(play({ dateTimePlayed: iso(NOW - 61 * day) })).code, 'PLAYLOG_DATE_OUT_OF_WINDOW', 'exactly 61 days');
  t.ok(ok(play({ dateTimePlayed: iso(NOW + 299_000) })), 'within clock skew');
  t.equal(err(play({ dateTimePlayed: iso(NOW + 301_000) })).code, 'PLAYLOG_DATE_OUT_OF_WINDOW', 'future');
  t.equal(err(play({ dateTimePlayed: 'yesterday' })).code, 'PLAYLOG_FIELD_INVALID');
});

t.test('userAgent over 256 characters is truncated, not rejected', async (t) => {
  t.equal(ok(play({ userAgent: 'a'.repeat(300) })).userAgent!.length, 256);
  t.equal(ok(play({ userAgent: 'a'.repeat(255) + '😀' })).userAgent, 'a'.repeat(255), 'no half surrogate pair');
  t.equal(ok(play({ userAgent: undefined })).userAgent, null);
  t.equal(err(play({ userAgent: 5 })).field, 'userAgent');
});

t.test('log-type specific fields', async (t) => {
  t.equal(err(play({ playMode: undefined })).field, 'playMode', 'subscription needs playMode');
  t.equal(err(play({ logType: 'catalogue', playMode: undefined })).field, 'endReason', 'catalogue needs endReason');
  const c = ok(play({ logType: 'catalogue', playMode: undefined, endReason: 'userSkipped' }));
  t.equal(c.endReason, 'userSkipped');
  t.equal(c.playMode, null);
  t.equal(err(play({ playMode: 'streaming' })).field, 'playMode');
  t.equal(err(play({ logType: 'radio' })).field, 'logType');
});

t.test('country must be an assigned ISO 3166-1 alpha-2 code', async (t) => {
  t.equal(ok(play({ country: 'us' })).country, 'US');
  for (const bad of ['UK', 'XX', 'GBR', 'G', 1]) t.equal(err(play({ country: bad })).field, 'country', String(bad));
});

t.test('a play must be an object', async (t) => {
  for (const bad of [null, [], 'play', 3]) t.equal(err(bad).code, 'PLAYLOG_PLAY_NOT_OBJECT');
});

t.test('identity: the same play counts once, whichever route and offset it came by', async (t) => {
  const a = ok(play());
  const b = ok(play({ dateTimePlayed: '2026-11-26T12:39:28.8981203+01:00', country: 'GB', userAgent: 'other' }));
  t.equal(a.playId, b.playId, 'same instant in another offset, other user agent');
  const v12 = ok(
    fromV12Item({ ...play(), logType: undefined, userId: undefined, country: undefined }, 'subscription', {
      country: 'GB',
      userId: 'user-1',
    }),
  );
  t.equal(v12.playId, a.playId, '1.2 route and bulk route agree');
  t.same(v12, a, 'field for field, the same normalised play');
  const catalogue = { ...play({ logType: 'catalogue', endReason: 'userSkipped', userAgent: 'Car/2 (x)' }), playMode: undefined };
  t.same(
    ok(fromV12Item({ ...catalogue, logType: undefined, country: undefined }, 'catalogue', { country: 'gb', userId: 'q' })),
    ok(catalogue),
    'a catalogue item too (its own userId, end reason, user agent)',
  );
  t.not(ok(play({ dateTimePlayed: '2026-11-26T11:39:28.8981204Z' })).playId, a.playId, '100 ns later is another play');
  t.not(ok(play({ userId: 'user-2' })).playId, a.playId);
  const other = normalizePlay(play(), { ...ctx, client: 'other' });
  t.ok(other.ok && other.play.playId !== a.playId, 'scoped by client');
  const withId = ok(play({ playId: 'abc' }));
  t.equal(ok(play({ playId: 'abc', trackId: 99 })).playId, withId.playId, 'a client playId is the identity');
  t.equal(err(play({ playId: 'x'.repeat(129) })).field, 'playId');
});

t.test('catalogue items: the item userId wins over the query', async (t) => {
  const item = { ...play({ logType: undefined, playMode: undefined, endReason: 'naturalEnd' }), userId: 'item-user' };
  t.equal(ok(fromV12Item(item, 'catalogue', { country: 'GB', userId: 'query-user' })).userId, 'item-user');
  t.equal(ok(fromV12Item({ ...item, userId: undefined }, 'catalogue', { country: 'GB', userId: 'query-user' })).userId, 'query-user');
  t.equal(ok(fromV12Item({ ...play(), userId: 'ignored' }, 'subscription', { country: 'GB', userId: 'query-user' })).userId, 'query-user');
});

t.test('decodePlay refuses what is not one play', async (t) => {
  t.throws(() => decodePlay(Buffer.from('{nope')), /not JSON/);
  t.throws(() => decodePlay(Buffer.from('{"v":1}')), /not a play/);
  t.throws(() => decodePlay(null), /empty/);
});

t.test('control characters and unpaired surrogates are refused in every text field, per item', async (t) => {
  for (const field of ['userId', 'userAgent', 'playId']) {
    for (const bad of [
      'a\u0000b',
      '\u0000',
      'tab\there',
      'line\nbreak',
      'bell\u0007',
      'del\u007f',
      'esc\u001b[31m',
      'half\ud800',
      '\udc00x',
    ]) {
      const e = err(play({ [field]: bad }));
      t.equal(e.code, 'PLAYLOG_FIELD_INVALID', `${field} ${JSON.stringify(bad)}`);
      t.equal(e.field, field);
      t.match(e.message, /control characters|unpaired surrogate/);
    }
  }
  // What DOMAIN.md allows stays allowed: any other character, emoji and C1-range letters included.
  t.equal(ok(play({ userId: 'Zoë 😀 ünïcode \u0085 \u00a0' })).userId, 'Zoë 😀 ünïcode \u0085 \u00a0');
  t.equal(ok(play({ userAgent: 'Acme/1 (😀)' })).userAgent, 'Acme/1 (😀)');
  const v12 = fromV12Item({ ...play(), logType: undefined }, 'subscription', { country: 'GB', userId: 'u\u0000' });
  t.equal(err(v12).field, 'userId', "the 1.2 query's userId (%00) is refused too");
});
