import t from 'tap';
import { normalizePlay, type Play } from '@playlog/schema';
import { playsCopyBinary, utcMicros } from '../src/copy-binary.js';
import { countBuckets } from '../src/buckets.js';
import { PLAY_COLUMNS } from '../src/index.js';
import { preparePlays } from '../src/prepare.js';

const NOW = Date.parse('2026-11-26T12:00:00Z');

function play(overrides: Record<string, unknown> = {}): Play {
  const r = normalizePlay(
    {
      logType: 'catalogue',
      userId: 'u "1", x',
      country: 'gb',
      trackId: '7',
      releaseId: 8,
      formatId: 9,
      endReason: 'naturalEnd',
      dateTimePlayed: '2026-11-26T11:00:00.1234567+01:00',
      totalTimePlayed: 31,
      userAgent: 'Acme "Player"\u2028line 2, é',
      ...overrides,
    },
    { client: 'acme', apiKeyName: 'main', now: NOW, clockSkewMs: 0 },
  );
  if (!r.ok) throw new Error(r.error.message);
  return r.play;
}

/** The fields of each tuple of a binary COPY body, as raw bytes (null for NULL). */
function tuples(body: Buffer): (Buffer | null)[][] {
  let at = 19;
  const rows: (Buffer | null)[][] = [];
  for (;;) {
    const n = body.readInt16BE(at);
    at += 2;
    if (n === -1) break;
    const row: (Buffer | null)[] = [];
    for (let i = 0; i < n; i++) {
      const len = body.readInt32BE(at);
      at += 4;
      row.push(len < 0 ? null : body.subarray(at, at + len));
      if (len > 0) at += len;
    }
    rows.push(row);
  }
  t.equal(at, body.length, 'the trailer ends the body');
  return rows;
}

const PG_EPOCH_MICROS = 946_684_800_000_000n;

t.test('plays as binary COPY: the signature, 18 fields a tuple in PLAY_COLUMNS order, each in its type’s binary form', async (t) => {
  const p = play();
  const q = play({ logType: 'subscription', playMode: 'online', endReason: null, userAgent: null, userId: 'plain' });
  const body = playsCopyBinary([p, q]);
  t.same(body.subarray(0, 11), Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), 'signature');
  t.equal(body.readInt32BE(11), 0, 'flags');
  t.equal(body.readInt32BE(15), 0, 'no header extension');
  const [a, b] = tuples(body);
  t.equal(a!.length, PLAY_COLUMNS.length);
  const col = (row: (Buffer | null)[], name: (typeof PLAY_COLUMNS)[number]) => row[PLAY_COLUMNS.indexOf(name)];
  t.equal(col(a!, 'play_id')!.toString('hex'), p.playId.replaceAll('-', ''), 'uuid: its 16 bytes');
  // 2026-11-26T10:00:00.123456Z in microseconds since 2000-01-01, as an int64.
  t.equal(col(a!, 'played_at')!.readBigInt64BE(), BigInt(Date.parse('2026-11-26T10:00:00.123Z')) * 1000n + 456n - PG_EPOCH_MICROS);
  t.equal(col(a!, 'received_at')!.readBigInt64BE(), BigInt(NOW) * 1000n - PG_EPOCH_MICROS);
  t.equal(col(a!, 'user_id')!.toString('utf8'), 'u "1", x', 'text: its UTF-8 bytes, nothing quoted');
  t.equal(col(a!, 'user_agent')!.toString('utf8'), 'Acme "Player"\u2028line 2, é', 'non-ASCII text');
  t.equal(col(a!, 'country')!.toString(), 'GB');
  t.equal(col(a!, 'track_id')!.readInt32BE(), 7, 'integer: 4 bytes');
  t.equal(col(a!, 'total_time_played')!.readInt32BE(), 31);
  t.same(col(a!, 'synthetic'), Buffer.from([0]), 'boolean: one byte');
  t.equal(col(a!, 'client_play_id'), null, 'NULL: length -1');
  t.equal(col(b!, 'end_reason'), null);
  t.equal(col(b!, 'user_agent'), null);
  t.equal(col(b!, 'play_mode')!.toString(), 'online');
  t.equal(tuples(playsCopyBinary([])).length, 0, 'no plays: header and trailer only');
});

t.test('a value that has no binary form is refused with the SQLSTATE Postgres would give', async (t) => {
  const p = play();
  t.throws(() => playsCopyBinary([{ ...p, playId: 'not-a-uuid' }]), { code: '22P02' });
  t.throws(() => playsCopyBinary([{ ...p, playId: p.playId.replace('-', 'x') }]), { code: '22P02' }, 'a dash where a dash belongs');
  t.throws(() => playsCopyBinary([{ ...p, playId: `g${p.playId.slice(1)}` }]), { code: '22P02' }, 'hex digits only');
  t.throws(() => playsCopyBinary([{ ...p, playId: `\u0130${p.playId.slice(1)}` }]), { code: '22P02' }, 'no character beyond ASCII');
  t.throws(() => playsCopyBinary([{ ...p, playId: `${p.playId.slice(0, 35)}\u0161` }]), { code: '22P02' }, 'not even as the last digit');
  t.throws(() => playsCopyBinary([{ ...p, playedAt: '2026-02-30T00:00:00.000000Z' }]), { code: '22008' }, 'a field out of range');
  t.throws(() => playsCopyBinary([{ ...p, playedAt: '2026-02-03 00:00:00Z' }]), { code: '22007' }, 'not the form');
  t.throws(() => playsCopyBinary([{ ...p, trackId: 2 ** 31 }]), { code: '22003' });
  t.throws(() => playsCopyBinary([{ ...p, trackId: 1.5 }]), { code: '22003' });
});

t.test('utcMicros: the UTC forms plays carry, exactly; anything else is NaN', async (t) => {
  t.equal(utcMicros('2000-01-01T00:00:00Z'), 946_684_800_000_000);
  t.equal(utcMicros('2000-01-01T00:00:00.000001Z'), 946_684_800_000_001);
  t.equal(utcMicros('2026-11-26T12:00:00.5Z'), NOW * 1000 + 500_000);
  t.equal(utcMicros('2024-02-29T23:59:59.999999Z'), Date.parse('2024-02-29T23:59:59.999Z') * 1000 + 999);
  // The day arithmetic agrees with Date's across the whole range, leap days and century years included.
  const from = Date.UTC(1700, 0, 1);
  const span = Date.UTC(2250, 0, 1) - from;
  let agree = 0;
  for (let i = 0; i < 5_000; i++) {
    const ms = from + Math.floor((span * ((i * 7919) % 5_000)) / 5_000) + (i % 86_400) * 1_000;
    if (utcMicros(new Date(ms).toISOString()) === ms * 1000) agree++;
  }
  t.equal(agree, 5_000, 'the same microseconds as Date for 5 000 instants from 1700 to 2250');
  for (const bad of [
    '2023-02-29T00:00:00Z',
    '2026-13-01T00:00:00Z',
    '2026-11-26T24:00:00Z',
    '2026-11-26T12:00:00.1234567Z',
    '2026-11-26T12:00:00+01:00',
    '2026-11-26 12:00:00Z',
    '2026-11-26T12:00:00.Z',
    '0000-01-01T00:00:00Z',
    '1600-01-01T00:00:00Z',
    '2300-01-01T00:00:00Z',
  ]) {
    t.ok(Number.isNaN(utcMicros(bad)), bad);
  }
});

t.test('preparePlays counts buckets as countBuckets does, from the instants the body was written from', async (t) => {
  const times = [
    '2026-11-26T10:00:00Z',
    '2026-11-26T10:14:59.999Z',
    '2026-11-26T10:15:00Z',
    '2026-11-26T11:44:00.5+01:00',
    '2026-11-25T23:59:59Z',
  ];
  const plays = times.flatMap((dateTimePlayed, i) => {
    const p = play({ dateTimePlayed });
    return [p, { ...p, client: 'zeta' }, { ...p, synthetic: i % 2 === 0 }];
  });
  const prepared = preparePlays(plays);
  t.same([...prepared.buckets].sort(), [...countBuckets(plays)].sort());
  t.equal(prepared.buckets.get('acme\u00002026-11-26T10:00:00.000Z'), 3, 'two plays and a reportable one of the same quarter');
  t.same(prepared.days, ['2026-11-25', '2026-11-26']);
  t.equal(prepared.count, plays.length);
});
