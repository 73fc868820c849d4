import t from 'tap';
import { decodePlays } from '@playlog/schema';
import { readToEnd } from '@playlog/testing';
import { bulkPlay, ingestFixture, readAllPlays, v12Item } from '../helpers.js';

/** `minutes` ago, written in the given ±hh:mm offset with 7 fractional digits. */
function offsetTime(minutes: number, offset: string): string {
  const sign = offset[0] === '-' ? -1 : 1;
  const [h, m] = offset.slice(1).split(':').map(Number) as [number, number];
  const local = new Date(Date.now() - minutes * 60_000 + sign * (h * 60 + m) * 60_000);
  return local.toISOString().slice(0, 19) + '.1234567' + offset;
}

t.test('7digital 1.2 routes on the real broker', async (t) => {
  const f = await ingestFixture(t);
  const sub = (q: string) => `/1.2/user/subscription/log?${q}`;

  t.test('subscription log: 200 in 7digital envelope; key in the query works and is the client', async (t) => {
    const res = await f.app.inject({
      method: 'POST',
      url: sub(`country=gb&userId=141732543&oauth_consumer_key=${f.key}`),
      payload: { playLogItem: [v12Item(), v12Item({ trackId: '102', totalTimePlayed: '12', dateTimePlayed: offsetTime(90, '+01:00') })] },
    });
    t.equal(res.statusCode, 200);
    t.same(res.json(), { status: 'ok', version: '1.2', playLogs: { count: 2 } });
  });

  t.test('catalogue log: the item userId wins over the query', async (t) => {
    const res = await f.app.inject({
      method: 'POST',
      url: `/1.2/catalogue/log?country=US&userId=query-user`,
      headers: { authorization: `Bearer ${f.keyB}` },
      payload: { playLogItem: [v12Item({ playMode: undefined, endReason: 'naturalEnd', userId: 'item-user' })] },
    });
    t.equal(res.statusCode, 200);
    const cat = (await readAllPlays(f.topic)).find((p) => p.logType === 'catalogue');
    t.match(cat, { client: 'globex', userId: 'item-user', country: 'US', endReason: 'naturalEnd', playMode: null });
  });

  t.test('all or nothing: one bad item rejects the request, nothing written', async (t) => {
    const topicBefore = (await readAllPlays(f.topic)).length;
    const res = await f.app.inject({
      method: 'POST',
      url: sub('country=GB&userId=u'),
      headers: { authorization: `Bearer ${f.key}` },
      payload: { playLogItem: [v12Item({ trackId: 900 }), v12Item({ dateTimePlayed: '2001-01-01T00:00:00Z' })] },
    });
    t.equal(res.statusCode, 400);
    t.same(res.json(), {
      status: 'error',
      version: '1.2',
      error: { code: 1002, errorMessage: 'playLogItem[1]: dateTimePlayed must be less than 61 days in the past and not in the future' },
    });
    const after = await readAllPlays(f.topic);
    t.equal(after.length, topicBefore, 'the valid item was not written either');
  });

  t.test('a NUL in the query userId (%00) is refused with 1003, nothing written', async (t) => {
    const res = await f.app.inject({
      method: 'POST',
      url: sub('country=GB&userId=a%00b'),
      headers: { authorization: `Bearer ${f.key}` },
      payload: { playLogItem: [v12Item({ trackId: 4242 })] },
    });
    t.equal(res.statusCode, 400);
    t.same(res.json().error, {
      code: 1003,
      errorMessage: 'playLogItem[0]: userId must not contain control characters (U+0000 to U+001F, U+007F)',
    });
    t.notOk(
      (await readAllPlays(f.topic)).some((p) => p.trackId === 4242),
      'nothing written',
    );
  });

  t.test('errors keep the 7digital envelope with numeric codes', async (t) => {
    const cases: [string, string, Record<string, string>, unknown, number, number][] = [
      ['no key', sub('country=GB&userId=u'), {}, { playLogItem: [v12Item()] }, 401, 2001],
      ['missing country', sub('userId=u'), { authorization: `Bearer ${f.key}` }, { playLogItem: [v12Item()] }, 400, 1001],
      ['bad country', sub('country=ZZ&userId=u'), { authorization: `Bearer ${f.key}` }, { playLogItem: [v12Item()] }, 400, 1003],
      ['empty list', sub('country=GB&userId=u'), { authorization: `Bearer ${f.key}` }, { playLogItem: [] }, 400, 1001],
      [
        'missing playMode',
        sub('country=GB&userId=u'),
        { authorization: `Bearer ${f.key}` },
        { playLogItem: [v12Item({ playMode: undefined })] },
        400,
        1001,
      ],
      [
        'float',
        sub('country=GB&userId=u'),
        { authorization: `Bearer ${f.key}` },
        { playLogItem: [v12Item({ totalTimePlayed: 1.5 })] },
        400,
        1003,
      ],
    ];
    for (const [name, url, headers, payload, status, code] of cases) {
      const res = await f.app.inject({ method: 'POST', url, headers, payload: payload as object });
      t.equal(res.statusCode, status, `${name}: status`);
      t.match(res.json(), { status: 'error', version: '1.2', error: { code, errorMessage: String } }, `${name}: envelope`);
    }
  });

  t.test('the same play via the 1.2 route and the bulk route has one identity', async (t) => {
    const when = new Date(Date.now() - 5 * 60_000).toISOString();
    await f.app.inject({
      method: 'POST',
      url: sub('country=GB&userId=same-user'),
      headers: { authorization: `Bearer ${f.key}` },
      payload: { playLogItem: [v12Item({ trackId: 555, dateTimePlayed: when })] },
    });
    await f.app.inject({
      method: 'POST',
      url: '/v1/play-logs',
      headers: { authorization: `Bearer ${f.key}` },
      payload: { plays: [bulkPlay({ userId: 'same-user', trackId: 555, dateTimePlayed: when })] },
    });
    const plays = (await readAllPlays(f.topic)).filter((p) => p.trackId === 555);
    t.equal(plays.length, 2, 'both requests were written');
    t.equal(plays[0].playId, plays[1].playId, 'one identity: the loader stores it once');
  });
});

t.test('concurrent 1.2 requests share Kafka messages; every play is on the topic once', async (t) => {
  const f = await ingestFixture(t);
  const n = 40;
  const responses = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      f.app.inject({
        method: 'POST',
        url: `/1.2/user/subscription/log?country=GB&userId=together-${i}`,
        headers: { authorization: `Bearer ${f.key}` },
        payload: { playLogItem: [v12Item()] },
      }),
    ),
  );
  t.same(new Set(responses.map((r) => r.statusCode)), new Set([200]));
  const messages = await readToEnd(f.topic);
  const users = messages.flatMap((m) => decodePlays(m.value).plays.map((p) => p.userId)).sort();
  t.same(users, Array.from({ length: n }, (_, i) => `together-${i}`).sort(), 'each play once');
  t.ok(messages.length < n, `${n} requests in ${messages.length} messages`);
});
