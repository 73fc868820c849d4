import fc from 'fast-check';
import t from 'tap';
import { Compile } from 'typebox/compile';
import { gz, bulkPlay, ingestFixture, readAllPlays } from '../helpers.js';
import { decodePlays, PlayInput } from '@playlog/schema';
import { mixedPlays, readToEnd } from '@playlog/testing';

t.test('bulk route on the real broker', async (t) => {
  const f = await ingestFixture(t);
  const auth = { authorization: `Bearer ${f.key}` };

  t.test('202 only once every play is in Kafka: one message for the request, each play with its identity', async (t) => {
    const plays = [bulkPlay({ userId: 'a' }), bulkPlay({ userId: 'b', trackId: '7', totalTimePlayed: '0' })];
    const res = await f.app.inject({ method: 'POST', url: '/v1/play-logs', headers: auth, payload: { plays } });
    t.equal(res.statusCode, 202);
    t.same(res.json(), { accepted: 2, rejected: 0 });
    // The response was sent after the delivery reports: the message is readable right away.
    const msgs = await readToEnd(f.topic);
    t.equal(msgs.length, 1, 'one message for the request');
    const { plays: written, refused } = decodePlays(msgs[0]!.value);
    t.same(refused, []);
    t.same(
      written.map((p) => p.userId),
      ['a', 'b'],
      'in request order',
    );
    t.not(written[0]!.playId, written[1]!.playId, 'each play has its own identity');
    t.notOk(msgs[0]!.key, 'no key: the sticky partitioner picks the partition');
    const header = (name: string) => msgs[0]!.headers?.find((h) => name in h)?.[name]?.toString();
    t.equal(header('play-count'), '2', 'play-count header');
    for (const p of written) t.equal(p.client, 'acme', 'client comes from the key, never the body');
  });

  t.test('property: the route takes exactly the plays the documented schema accepts, per item', async (t) => {
    const documented = Compile(PlayInput);
    let taken = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(mixedPlays(Date.now()), { minLength: 1, maxLength: 20 }), async (plays) => {
        const res = await f.app.inject({ method: 'POST', url: '/v1/play-logs', headers: auth, payload: { plays } });
        const bad = plays.flatMap((p, i) => (documented.Check(p) ? [] : [i]));
        taken += plays.length - bad.length;
        refused += bad.length;
        const body = res.json() as { accepted?: number; errors?: { index: number }[] };
        const status = bad.length === 0 ? 202 : bad.length === plays.length ? 400 : 207;
        return (
          res.statusCode === status &&
          (body.accepted ?? 0) === plays.length - bad.length &&
          JSON.stringify((body.errors ?? []).map((e) => e.index)) === JSON.stringify(bad)
        );
      }),
      { numRuns: 60 },
    );
    t.ok(taken > 50 && refused > 50, `${taken} plays taken, ${refused} refused over 60 requests`);
  });

  t.test('mixed batch: 207 with the indexes of the bad plays; good ones written', async (t) => {
    const plays = [
      bulkPlay({ userId: 'm1' }),
      bulkPlay({ trackId: 'x' }),
      bulkPlay({ userId: 'm2' }),
      { nope: true },
      bulkPlay({ dateTimePlayed: '2001-01-01T00:00:00Z' }),
    ];
    const res = await f.app.inject({ method: 'POST', url: '/v1/play-logs', headers: auth, payload: { plays } });
    t.equal(res.statusCode, 207);
    const body = res.json();
    t.equal(body.accepted, 2);
    t.equal(body.rejected, 3);
    t.same(
      body.errors.map((e: { index: number; code: string }) => [e.index, e.code]),
      [
        [1, 'PLAYLOG_FIELD_INVALID'],
        [3, 'PLAYLOG_FIELD_MISSING'],
        [4, 'PLAYLOG_DATE_OUT_OF_WINDOW'],
      ],
    );
  });

  t.test('a NUL or other control character in any text field is refused per item; its neighbours are written', async (t) => {
    const body = `{"plays":[${JSON.stringify(bulkPlay({ userId: 'ctl-ok' }))},${JSON.stringify(bulkPlay({ userId: 'x' })).replace('"x"', '"a\\u0000b"')},${JSON.stringify(bulkPlay({ userId: 'ctl-ua', userAgent: 'Acme\u0007' }))},${JSON.stringify(bulkPlay({ userId: 'ctl-id', playId: 'p\nq' }))}]}`;
    const res = await f.app.inject({
      method: 'POST',
      url: '/v1/play-logs',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: body,
    });
    t.equal(res.statusCode, 207);
    t.same(
      res.json().errors.map((e: { index: number; code: string; message: string }) => [e.index, e.code, e.message]),
      [
        [1, 'PLAYLOG_FIELD_INVALID', 'userId must not contain control characters (U+0000 to U+001F, U+007F)'],
        [2, 'PLAYLOG_FIELD_INVALID', 'userAgent must not contain control characters (U+0000 to U+001F, U+007F)'],
        [3, 'PLAYLOG_FIELD_INVALID', 'playId must not contain control characters (U+0000 to U+001F, U+007F)'],
      ],
    );
    const written = await readAllPlays(f.topic);
    t.ok(
      written.some((p) => p.userId === 'ctl-ok'),
      'the valid play is written',
    );
    t.notOk(
      written.some((p) => /[\u0000-\u001f]/.test(p.userId + (p.userAgent ?? ''))),
      'no control character reached the topic',
    );
  });

  t.test('400 when no play is valid, with per-item errors', async (t) => {
    const res = await f.app.inject({ method: 'POST', url: '/v1/play-logs', headers: auth, payload: { plays: [{ a: 1 }, 5] } });
    t.equal(res.statusCode, 400);
    t.match(res.json(), {
      code: 'PLAYLOG_NO_VALID_PLAYS',
      accepted: 0,
      rejected: 2,
      errors: [{ index: 0 }, { index: 1, code: 'PLAYLOG_PLAY_NOT_OBJECT' }],
    });
  });

  t.test('NDJSON, with a bad line reported by index', async (t) => {
    const body = [JSON.stringify(bulkPlay({ userId: 'n1' })), '{broken', '', JSON.stringify(bulkPlay({ userId: 'n2' }))].join('\n');
    const res = await f.app.inject({
      method: 'POST',
      url: '/v1/play-logs',
      headers: { ...auth, 'content-type': 'application/x-ndjson' },
      payload: body,
    });
    t.equal(res.statusCode, 207);
    t.match(res.json(), { accepted: 2, rejected: 1, errors: [{ index: 1, code: 'PLAYLOG_PLAY_INVALID_JSON' }] });
  });

  t.test('gzip accepted; a gzip bomb is cut off at the decompressed limit with 413', async (t) => {
    const ok = await f.app.inject({
      method: 'POST',
      url: '/v1/play-logs',
      headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: gz({ plays: [bulkPlay({ userId: 'gz' })] }),
    });
    t.equal(ok.statusCode, 202);
    const bomb = gz(`{"plays":[${' '.repeat(50 * 1024 * 1024)}]}`); // 50 MiB of spaces: ~50 KiB compressed
    t.ok(bomb.length < 200_000, `bomb is small on the wire (${bomb.length} bytes)`);
    const res = await f.app.inject({
      method: 'POST',
      url: '/v1/play-logs',
      headers: { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
      payload: bomb,
    });
    t.equal(res.statusCode, 413);
    t.equal(res.json().code, 'PLAYLOG_PAYLOAD_TOO_LARGE');
    t.equal(res.json().message, "request body is over this route's limit of 10485760 bytes (after decompression)", 'says the limit');
  });

  t.test('client errors have stable codes, never a 5xx', async (t) => {
    const cases: [string, Record<string, string>, string | Buffer, number, string][] = [
      ['no key', {}, JSON.stringify({ plays: [bulkPlay()] }), 401, 'PLAYLOG_UNAUTHORIZED'],
      ['bad key', { authorization: 'Bearer plk_nope' }, JSON.stringify({ plays: [bulkPlay()] }), 401, 'PLAYLOG_UNAUTHORIZED'],
      ['text/plain', { ...auth, 'content-type': 'text/plain' }, 'hello', 415, 'PLAYLOG_UNSUPPORTED_MEDIA_TYPE'],
      ['brotli', { ...auth, 'content-type': 'application/json', 'content-encoding': 'br' }, '{}', 415, 'PLAYLOG_UNSUPPORTED_ENCODING'],
      ['bad JSON', { ...auth, 'content-type': 'application/json' }, '{"plays": [', 400, 'PLAYLOG_INVALID_JSON'],
      ['proto poisoning', { ...auth, 'content-type': 'application/json' }, '{"plays":[],"__proto__":{"x":1}}', 400, 'PLAYLOG_INVALID_JSON'],
      [
        'escaped proto',
        { ...auth, 'content-type': 'application/json' },
        '{"plays":[],"\\u005f_proto__":{"x":1}}',
        400,
        'PLAYLOG_INVALID_JSON',
      ],
      [
        'constructor.prototype',
        { ...auth, 'content-type': 'application/json' },
        '{"plays":[],"constructor":{"prototype":{}}}',
        400,
        'PLAYLOG_INVALID_JSON',
      ],
      ['empty body', { ...auth, 'content-type': 'application/json' }, '', 400, 'PLAYLOG_INVALID_JSON'],
      ['no plays key', { ...auth, 'content-type': 'application/json' }, '{"data":[]}', 400, 'PLAYLOG_BAD_REQUEST'],
      ['empty plays', { ...auth, 'content-type': 'application/json' }, '{"plays":[]}', 400, 'PLAYLOG_BAD_REQUEST'],
      [
        'bad gzip',
        { ...auth, 'content-type': 'application/json', 'content-encoding': 'gzip' },
        'not gzip at all',
        400,
        'PLAYLOG_BAD_REQUEST',
      ],
    ];
    for (const [name, headers, payload, status, code] of cases) {
      const res = await f.app.inject({
        method: 'POST',
        url: '/v1/play-logs',
        headers: { 'content-type': 'application/json', ...headers },
        payload,
      });
      t.equal(res.statusCode, status, `${name}: status`);
      t.equal(res.json().code, code, `${name}: code`);
      t.match(res.json(), { statusCode: status, error: String, message: String }, `${name}: Fastify shape`);
    }
  });

  t.test('bodies that only look like prototype keys are parsed as JSON and taken', async (t) => {
    for (const [name, text] of [
      ['a \\u escape', JSON.stringify({ plays: [bulkPlay({ userId: 'esc' })] }).replace('"esc"', '"\\u00e9sc"')],
      ['the word constructor in a value', JSON.stringify({ plays: [bulkPlay({ userAgent: 'constructor __proto__' })] })],
      ['a constructor key without a prototype', JSON.stringify({ plays: [{ ...bulkPlay(), constructor: 'x' }] })],
      ['a byte-order mark', `\ufeff${JSON.stringify({ plays: [bulkPlay()] })}`],
    ]) {
      const res = await f.app.inject({
        method: 'POST',
        url: '/v1/play-logs',
        headers: { ...auth, 'content-type': 'application/json' },
        payload: text!,
      });
      t.equal(res.statusCode, 202, `${name}: ${res.body}`);
    }
  });

  t.test('too many plays in one request: 413', async (t) => {
    const small = await ingestFixture(t, { BULK_MAX_PLAYS: '3' });
    const res = await small.app.inject({
      method: 'POST',
      url: '/v1/play-logs',
      headers: { authorization: `Bearer ${small.key}` },
      payload: { plays: [1, 2, 3, 4].map(() => bulkPlay()) },
    });
    t.equal(res.statusCode, 413);
    t.equal(res.json().code, 'PLAYLOG_TOO_MANY_PLAYS');
  });

  t.test('per-client rate limit in plays: 429 with Retry-After; other clients unaffected', async (t) => {
    // The limiter's clock stands still: no refill between requests, however long the broker takes.
    const at = Date.now();
    const limited = await ingestFixture(
      t,
      { CLIENT_RATE_LIMIT_PLAYS_PER_SECOND: '1', CLIENT_RATE_LIMIT_BURST_PLAYS: '10' },
      { now: () => at },
    );
    const send = (key: string, n: number) =>
      limited.app.inject({
        method: 'POST',
        url: '/v1/play-logs',
        headers: { authorization: `Bearer ${key}` },
        payload: { plays: Array.from({ length: n }, (_, i) => bulkPlay({ userId: `rl${i}` })) },
      });
    t.equal((await send(limited.key, 8)).statusCode, 202, 'within the burst');
    const over = await send(limited.key, 8);
    t.equal(over.statusCode, 429);
    t.equal(over.json().code, 'PLAYLOG_RATE_LIMITED');
    t.ok(Number(over.headers['retry-after']) >= 1, 'Retry-After in seconds');
    t.equal((await send(limited.keyB, 8)).statusCode, 202, 'another client has its own bucket');
    t.equal((await send(limited.key, 2)).statusCode, 202, 'the last 2 plays of the burst');
    const unread = await limited.app.inject({
      method: 'POST',
      url: '/v1/play-logs',
      headers: { authorization: `Bearer ${limited.key}`, 'content-type': 'application/json' },
      payload: '{"plays": not json',
    });
    t.equal(unread.statusCode, 429, 'an empty bucket refuses before the body is parsed (else this would be a 400)');
    t.equal(unread.json().code, 'PLAYLOG_RATE_LIMITED');
  });
});
