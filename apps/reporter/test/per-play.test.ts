import t from 'tap';
import { PerPlayCsv } from '../src/per-play.js';

// Unit tests of the binary-COPY-to-CSV transform on hand-made input. per-play.int.test.ts holds its
// output to Postgres's own CSV of the same plays.

const scope = { client: 'acme', day: '2026-11-02', timezone: 'UTC', thresholdSeconds: 30 };
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);

interface P {
  playedAt: string; // ISO instant (ms), plus `micros` below
  micros?: number;
  playId: string;
  dateTimePlayed: string;
  receivedAt: string;
  receivedMicros?: number;
  logType?: string;
  userId?: string;
  country?: string;
  trackId?: number;
  releaseId?: number;
  formatId?: number;
  playMode?: string | null;
  endReason?: string | null;
  total?: number;
  userAgent?: string | null;
  apiKeyName?: string;
}

const timestamp = (iso: string, micros = 0): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigInt64BE(BigInt(Date.parse(iso) - PG_EPOCH_MS) * 1000n + BigInt(micros));
  return b;
};
const int4 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v);
  return b;
};

/** A play as binary COPY sends perPlayCopy's columns. */
function tuple(p: P): Buffer {
  const fields: (Buffer | null)[] = [
    timestamp(p.playedAt, p.micros),
    Buffer.from(p.playId.replaceAll('-', ''), 'hex'),
    Buffer.from(p.dateTimePlayed),
    timestamp(p.receivedAt, p.receivedMicros),
    Buffer.from(p.logType ?? 'subscription'),
    Buffer.from(p.userId ?? 'u1'),
    Buffer.from(p.country ?? 'GB'),
    int4(p.trackId ?? 10),
    int4(p.releaseId ?? 20),
    int4(p.formatId ?? 26),
    p.playMode === null ? null : Buffer.from(p.playMode ?? 'online'),
    p.endReason === null || p.endReason === undefined ? null : Buffer.from(p.endReason),
    int4(p.total ?? 31),
    p.userAgent === null || p.userAgent === undefined ? null : Buffer.from(p.userAgent),
    Buffer.from(p.apiKeyName ?? 'k'),
  ];
  const count = Buffer.alloc(2);
  count.writeInt16BE(fields.length);
  return Buffer.concat([count, ...fields.flatMap((f) => (f === null ? [int4(-1)] : [int4(f.length), f]))]);
}

const HEADER = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), int4(0), int4(0)]);
const TRAILER = Buffer.from([0xff, 0xff]);
const copyOf = (plays: P[]) => Buffer.concat([HEADER, ...plays.map(tuple), TRAILER]);

/** The CSV for `input`, given to the transform in chunks of the sizes `sizes` cycles through. */
async function render(input: Buffer, sizes: number[] = [1 << 20]): Promise<string> {
  const csv = new PerPlayCsv(scope);
  const out: Buffer[] = [];
  csv.on('data', (c: Buffer) => out.push(c));
  const ended = new Promise<void>((resolve, reject) => {
    csv.on('end', resolve);
    csv.on('error', reject);
  });
  for (let at = 0, i = 0; at < input.length; i++) {
    const n = sizes[i % sizes.length]!;
    csv.write(input.subarray(at, at + n));
    at += n;
  }
  csv.end();
  await ended;
  return Buffer.concat(out).toString();
}

const base: P = {
  playedAt: '2026-11-02T10:00:00.123Z',
  micros: 456,
  playId: '0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9',
  dateTimePlayed: '2026-11-02T10:00:00.1234560Z',
  receivedAt: '2026-11-02T10:00:02.000Z',
  receivedMicros: 999,
};

t.test('a play: every column as Postgres writes it', async (t) => {
  t.equal(
    await render(copyOf([{ ...base, endReason: null, userAgent: 'AcmeMusic/5.2.1 (Android 14)' }])),
    '2026-11-02,acme,0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9,2026-11-02T10:00:00.1234560Z,2026-11-02T10:00:02.000Z,' +
      'subscription,u1,GB,10,20,26,online,,31,true,AcmeMusic/5.2.1 (Android 14),k\n',
  );
});

t.test("received_at: to_char's milliseconds are truncated, not rounded", async (t) => {
  const line = await render(copyOf([{ ...base, receivedAt: '2026-11-02T23:59:59.999Z', receivedMicros: 999 }]));
  t.match(line, /,2026-11-02T23:59:59\.999Z,/);
});

t.test('received_at far from now: exact to the microsecond, years as to_char writes them, infinity as NULL', async (t) => {
  const cell = async (iso: string, micros = 0) =>
    (await render(copyOf([{ ...base, receivedAt: iso, receivedMicros: micros }]))).split(',')[4];
  t.equal(await cell('2300-01-01T00:00:00.999Z', 999), '2300-01-01T00:00:00.999Z', 'beyond 2^53 µs after 2000: not rounded up');
  t.equal(await cell('1700-01-01T00:00:00.999Z', 999), '1700-01-01T00:00:00.999Z', 'beyond 2^53 µs before 2000');
  t.equal(await cell('1999-12-31T23:59:59.999Z', 999), '1999-12-31T23:59:59.999Z', 'just before 2000');
  t.equal(await cell('+000000-06-01T00:00:00.000Z'), '0001-06-01T00:00:00.000Z', '1 BC is year 0001 (no sign)');
  t.equal(await cell('-000043-03-15T12:34:56.789Z'), '0044-03-15T12:34:56.789Z', '44 BC');
  t.equal(await cell('+010000-01-01T00:00:00.000Z'), '10000-01-01T00:00:00.000Z', 'five-digit years in full');
  const infinity = copyOf([base]);
  const at = HEADER.length + 2 + (4 + 8) + (4 + 16) + (4 + base.dateTimePlayed.length) + 4;
  for (const v of [0x7fffffffffffffffn, -0x8000000000000000n]) {
    infinity.writeBigInt64BE(v, at);
    t.equal((await render(infinity)).split(',')[4], '', `${v > 0n ? '' : '-'}infinity: an empty cell`);
  }
});

t.test('int4 cells: zero, negatives and the extremes', async (t) => {
  const line = await render(copyOf([{ ...base, trackId: 0, releaseId: -2147483648, formatId: 2147483647, total: -7 }]));
  t.match(line, /,0,-2147483648,2147483647,online,,-7,false,/);
});

t.test('royalty_bearing: total_time_played at the threshold is true, below it false', async (t) => {
  const lines = (
    await render(
      copyOf([
        { ...base, total: 29 },
        { ...base, playedAt: '2026-11-02T10:00:01.000Z', total: 30 },
      ]),
    )
  ).split('\n');
  t.match(lines[0], /,29,false,/);
  t.match(lines[1], /,30,true,/);
});

t.test('CSV quoting as COPY … CSV: empty strings quoted, NULL empty, commas, quotes, LF and CR quoted', async (t) => {
  const cells = (over: Partial<P>) => render(copyOf([{ ...base, ...over }]));
  t.match(await cells({ userAgent: '' }), /,true,"",k\n$/, 'an empty string is ""');
  t.match(await cells({ userAgent: null }), /,true,,k\n$/, 'NULL is nothing');
  t.match(await cells({ userAgent: 'a,b' }), /,true,"a,b",k\n$/);
  t.match(await cells({ userAgent: 'say "hi"' }), /,true,"say ""hi""",k\n$/);
  t.match(await cells({ userAgent: 'two\nlines' }), /,true,"two\nlines",k\n$/);
  t.match(await cells({ userAgent: 'cr\rhere' }), /,true,"cr\rhere",k\n$/);
  t.match(await cells({ dateTimePlayed: 'x,y' }), /,"x,y",2026/, 'every text column, not only the neutralised ones');
  t.match(await cells({ userAgent: 'é ✓' }), /,true,é ✓,k\n$/, 'UTF-8 as is');
});

t.test('formula cells: user_id, user_agent and api_key_name get a leading apostrophe; others do not', async (t) => {
  const cells = (over: Partial<P>) => render(copyOf([{ ...base, ...over }]));
  for (const [value, cell] of [
    ['=1+2', "'=1+2"],
    ['+1', "'+1"],
    ['-1', "'-1"],
    ['@SUM(A1)', "'@SUM(A1)"],
    ["'quoted", "''quoted"],
    ['\tx', "'\tx"],
    ['\rx', `"'\rx"`],
    ['=a,b', `"'=a,b"`],
    ['a=1', 'a=1'],
  ]) {
    t.ok((await cells({ userId: value })).includes(`,subscription,${cell},GB,`), `user_id ${JSON.stringify(value)}`);
    t.ok((await cells({ userAgent: value })).endsWith(`,true,${cell},k\n`), `user_agent ${JSON.stringify(value)}`);
    t.ok((await cells({ apiKeyName: value })).endsWith(`,${cell}\n`), `api_key_name ${JSON.stringify(value)}`);
  }
  t.ok((await cells({ logType: '=x' })).includes(',=x,'), 'log_type is written as is');
});

t.test('plays of one instant: ordered by date_time_played (bytes), then play_id', async (t) => {
  const at = { playedAt: '2026-11-02T10:00:00.000Z', micros: 0 };
  const plays: P[] = [
    { ...base, ...at, playId: '00000000-0000-0000-0000-000000000009', dateTimePlayed: 'b' },
    { ...base, ...at, playId: 'ff000000-0000-0000-0000-000000000000', dateTimePlayed: 'a' },
    { ...base, ...at, playId: '10000000-0000-0000-0000-000000000000', dateTimePlayed: 'a' },
    { ...base, ...at, playId: '00000000-0000-0000-0000-000000000001', dateTimePlayed: 'ab' },
    { ...base, ...at, playId: '00000000-0000-0000-0000-000000000002', dateTimePlayed: 'é' }, // 0xc3: after every ASCII byte
    { ...base, ...at, playId: '00000000-0000-0000-0000-000000000003', dateTimePlayed: 'Z' },
    { ...base, playedAt: '2026-11-02T10:00:00.000Z', micros: 1, playId: '00000000-0000-0000-0000-000000000000', dateTimePlayed: '0' },
  ];
  const order = (await render(copyOf(plays)))
    .trim()
    .split('\n')
    .map((l) => l.split(',').slice(2, 4).join(' '));
  t.same(order, [
    '00000000-0000-0000-0000-000000000003 Z',
    '10000000-0000-0000-0000-000000000000 a',
    'ff000000-0000-0000-0000-000000000000 a',
    '00000000-0000-0000-0000-000000000001 ab',
    '00000000-0000-0000-0000-000000000009 b',
    '00000000-0000-0000-0000-000000000002 é',
    '00000000-0000-0000-0000-000000000000 0', // one microsecond later: after the whole instant
  ]);
});

t.test('the same rows however the input is chunked, and across many output buffers', async (t) => {
  const plays: P[] = Array.from({ length: 9000 }, (_, i) => ({
    ...base,
    playedAt: new Date(Date.parse('2026-11-02T00:00:00Z') + Math.floor(i / 3) * 1000).toISOString(), // threes share an instant
    playId: `00000000-0000-0000-0000-${String(9000 - i).padStart(12, '0')}`,
    dateTimePlayed: `dtp-${i % 7}`,
    userAgent: i % 10 === 0 ? `agent, "${i}"` : 'x'.repeat(i % 200),
    userId: i % 4 === 0 ? `=u${i}` : `u${i}`,
  }));
  const input = copyOf(plays);
  const whole = await render(input);
  t.ok(Buffer.byteLength(whole) > 1 << 20, 'more than one output buffer');
  t.equal(whole.split('\n').length - 1, plays.length, 'a line per play');
  t.equal(await render(input, [1]), whole, 'a byte at a time');
  t.equal(await render(input, [7, 3, 70_000, 1, 19, 2]), whole, 'odd chunk sizes');
  t.equal(await render(input, [input.length]), whole, 'one chunk');
});

t.test('broken input fails the stream with what was wrong', async (t) => {
  const one = tuple(base);
  await t.rejects(render(Buffer.concat([HEADER, one])), /ended without its trailer/);
  await t.rejects(render(Buffer.concat([HEADER, one.subarray(0, 40)])), /ended without its trailer/);
  await t.rejects(render(Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\x01', 'latin1'), int4(0), int4(0), TRAILER])), /not binary COPY/);
  await t.rejects(render(Buffer.concat([HEADER, TRAILER, one])), /data after its trailer/);
  const flagged = Buffer.from(HEADER);
  flagged.writeInt32BE(1 << 16, 11);
  await t.rejects(render(Buffer.concat([flagged, TRAILER])), /unknown critical flags/);
  const fewer = Buffer.from(one);
  fewer.writeInt16BE(14);
  await t.rejects(render(Buffer.concat([HEADER, fewer, TRAILER])), /14 fields, expected 15/);
  const nullUser = copyOf([{ ...base }]);
  // user_id's length (after the header, the field count and five fields: 8 + 16 + 28 + 8 + 12 bytes, with lengths)
  const at = HEADER.length + 2 + (4 + 8) + (4 + 16) + (4 + base.dateTimePlayed.length) + (4 + 8) + (4 + 'subscription'.length);
  t.equal(nullUser.readInt32BE(at), 2, 'found user_id');
  const broken = Buffer.concat([nullUser.subarray(0, at), int4(-1), nullUser.subarray(at + 4 + 2)]);
  await t.rejects(render(broken), /user_id is NULL/);
  const wide = Buffer.concat([
    nullUser.subarray(0, at + 4 + 2 + 4 + 2),
    int4(8),
    Buffer.alloc(8),
    nullUser.subarray(at + 4 + 2 + 4 + 2 + 8),
  ]);
  await t.rejects(render(wide), /track_id has 8 bytes, expected 4/);
});
