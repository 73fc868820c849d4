import { pipeline, type Readable, Transform, type TransformCallback } from 'node:stream';
import { copyOut, escapeLiteral, type Session } from '@playlog/db';
import { ascii, cell, COMMA, csvCell, decimal, farTimestamp, int32, millis, PG_EPOCH_MS, uuid } from './csv-bytes.js';
import type { DayScope, Range } from './usage.js';

/**
 * client-usage.csv's rows for a part of a day: Postgres sends the plays' stored values in binary, in
 * index order, and the reporter writes the CSV.
 *
 * Why not `COPY (select … to_char(…) …) TO STDOUT (FORMAT csv)`: at 10M plays a day that query took
 * the server 22.7 s (serial, psql to /dev/null; bench/reporter), most of it turning integers, UUIDs and
 * timestamps into text, evaluating the report's expressions and sorting the plays that share an
 * instant; the same plays in binary, in index order, took 9.7 s, and the reporter renders them at
 * about 0.55 µs a row. The bytes are the ones that query gives (the tests keep it as their oracle:
 * test/per-play-oracle.ts): Postgres's CSV quoting, its `to_char` of `received_at`, the neutralised
 * cells, and the contract's order (played_at, then date_time_played by bytes, then play_id).
 */

const TIMESTAMPTZ = 8; // binary: microseconds since 2000-01-01 UTC
const UUID = 16;
const INT4 = 4;
const TEXT = 0; // any length
const NULL_OK = true;

/** The columns the transform reads, in its order: name, binary width, and whether it may be NULL. */
const COLUMNS = [
  ['played_at', TIMESTAMPTZ],
  ['play_id', UUID],
  ['date_time_played', TEXT],
  ['received_at', TIMESTAMPTZ],
  ['log_type', TEXT],
  ['user_id', TEXT],
  ['country', TEXT],
  ['track_id', INT4],
  ['release_id', INT4],
  ['format_id', INT4],
  ['play_mode', TEXT, NULL_OK],
  ['end_reason', TEXT, NULL_OK],
  ['total_time_played', INT4],
  ['user_agent', TEXT, NULL_OK],
  ['api_key_name', TEXT],
] as const;
const NAMES = COLUMNS.map((c) => c[0]);
const F = Object.fromEntries(NAMES.map((c, i) => [c, i])) as Record<(typeof NAMES)[number], number>;
const FIELDS = COLUMNS.length;
const WIDTH = COLUMNS.map((c) => c[1]);
const NULLABLE = COLUMNS.map((c) => c.length === 3);

/** The plays of `range` (within the scope's day), sorted by their instant only: ties are ordered by the transform. */
export function perPlayCopy(s: DayScope, range: Range): string {
  return `copy (
    select ${NAMES.join(', ')}
      from plays
     where client = ${escapeLiteral(s.client)}
       and played_at >= ${escapeLiteral(range.from.toISOString())}::timestamptz
       and played_at < ${escapeLiteral(range.to.toISOString())}::timestamptz
       and not synthetic
     order by played_at
  ) to stdout with (format binary)`;
}

/** The CSV rows (no header) of the part of the day, from `db` (in its transaction's snapshot). */
export function renderPerPlay(db: Session, s: DayScope, range: Range): Readable {
  const csv = new PerPlayCsv(s);
  // pipeline destroys the COPY stream with the transform (a failed report destroys the transform). That
  // abandons the COPY only: the connection stays mid-COPY, so the caller discards it, never reuses it.
  return pipeline(db.query(copyOut(perPlayCopy(s, range))), csv, () => undefined);
}

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const OUT_BYTES = 1 << 20;

/** A play held back: the buffer it is in, and its fields (start, length; length -1 for NULL). */
interface Tuple {
  buf: Buffer;
  at: Int32Array;
}

/** Slots of a play's offsets: start and length per field, then its bytes in all. */
const SLOTS = FIELDS * 2 + 1;

/**
 * Binary COPY of perPlayCopy's columns in, client-usage.csv rows out (in buffers of about 1 MiB).
 * Plays arrive ordered by played_at; the latest is held until the next one shows whether its instant
 * has more plays, and the plays of one instant are written ordered by date_time_played (bytes), then
 * play_id. Written for its cost (about 10M rows a day): no object per play (ties aside), and each
 * byte copied once (a cell that needs quotes aside: found while copying, then written again quoted).
 */
export class PerPlayCsv extends Transform {
  private readonly prefix: Buffer;
  private readonly threshold: number;
  private rest: Buffer | undefined;
  private started = false;
  private ended = false;
  /** The play read last and not written yet, and where its fields are. */
  private held: Buffer | undefined;
  private heldAt = new Int32Array(SLOTS);
  /** Where the fields of the play being read are (swapped with heldAt as plays move on). */
  private next = new Int32Array(SLOTS);
  /** When the held play's instant has more plays: all of them (rare; copies of their offsets). */
  private ties: Tuple[] = [];
  private out = Buffer.allocUnsafe(OUT_BYTES);
  private w = 0;
  /** received_at's seconds last formatted, and their "YYYY-MM-DDTHH:MM:SS" bytes. */
  private lastSecond = Number.NaN;
  private readonly secondText = Buffer.alloc(19);

  constructor(s: DayScope) {
    super();
    const day = csvCell(Buffer.from(s.day));
    const client = csvCell(Buffer.from(s.client));
    this.prefix = Buffer.concat([day, Buffer.from(','), client, Buffer.from(',')]);
    this.threshold = s.thresholdSeconds;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      this.parse(chunk);
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    if (!this.ended || this.rest) return done(new Error('per-play COPY ended without its trailer'));
    this.writeHeld();
    if (this.w > 0) this.push(this.out.subarray(0, this.w));
    done();
  }

  private parse(chunk: Buffer): void {
    let buf = chunk;
    let at = 0;
    if (this.rest) {
      // A play split between chunks: join it with as much of this chunk as it can need.
      const rest = this.rest;
      const taken = Math.min(chunk.length, 1 << 16);
      const joined = Buffer.concat([rest, chunk.subarray(0, taken)]);
      const end = this.tuple(joined, 0);
      if (end >= 0) at = end - rest.length;
      else if (taken === chunk.length) return void (this.rest = joined);
      else buf = Buffer.concat([rest, chunk]);
      this.rest = undefined;
    }
    while (at < buf.length && !this.ended) {
      const end = this.tuple(buf, at);
      if (end < 0) {
        this.rest = Buffer.from(buf.subarray(at));
        return;
      }
      at = end;
    }
    if (at < buf.length) throw new Error('per-play COPY: data after its trailer');
  }

  /** Reads the header or one play at `at`; returns where it ends, or -1 when `buf` ends first. */
  private tuple(buf: Buffer, at: number): number {
    const length = buf.length;
    if (!this.started) {
      if (length < at + 19) return -1;
      if (!buf.subarray(at, at + 11).equals(SIGNATURE)) throw new Error('per-play COPY: not binary COPY output');
      if ((int32(buf, at + 11) & 0xffff0000) !== 0) throw new Error('per-play COPY: unknown critical flags in its header');
      const end = at + 19 + int32(buf, at + 15);
      if (length < end) return -1;
      this.started = true;
      return end;
    }
    if (length < at + 2) return -1;
    const fields = (buf[at]! << 8) | buf[at + 1]!;
    if (fields === 0xffff) {
      this.ended = true;
      return at + 2;
    }
    if (fields !== FIELDS) throw new Error(`per-play COPY: ${fields} fields, expected ${FIELDS}`);
    const o = this.next;
    let p = at + 2;
    for (let f = 0; f < FIELDS; f++) {
      if (length < p + 4) return -1;
      const n = int32(buf, p);
      p += 4;
      o[2 * f] = p;
      o[2 * f + 1] = n;
      const width: number = WIDTH[f]!;
      if (n === -1) {
        if (!NULLABLE[f]) throw new Error(`per-play COPY: ${NAMES[f]} is NULL`);
      } else if (width !== TEXT && n !== width) {
        throw new Error(`per-play COPY: ${NAMES[f]} has ${n} bytes, expected ${width}`);
      } else {
        p += n;
        if (length < p) return -1;
      }
    }
    o[FIELDS * 2] = p - at;
    this.hold(buf);
    return p;
  }

  /** The play just read (in `next`): held if its instant is the held play's, else the held ones are written first. */
  private hold(buf: Buffer): void {
    const held = this.held;
    if (held !== undefined) {
      const a = this.heldAt[0]!;
      const b = this.next[0]!;
      if (int32(held, a) === int32(buf, b) && int32(held, a + 4) === int32(buf, b + 4)) {
        if (this.ties.length === 0) this.ties.push({ buf: held, at: this.heldAt.slice() });
        this.ties.push({ buf, at: this.next.slice() });
        return;
      }
      this.writeHeld();
    }
    const swap = this.heldAt;
    this.heldAt = this.next;
    this.next = swap;
    this.held = buf;
  }

  private writeHeld(): void {
    if (this.ties.length > 0) {
      this.ties.sort(byTies);
      for (const t of this.ties) this.row(t.buf, t.at);
      this.ties = [];
    } else if (this.held !== undefined) this.row(this.held, this.heldAt);
    this.held = undefined;
  }

  private row(buf: Buffer, at: Int32Array): void {
    let o = this.out;
    let w = this.w;
    // Room for the row: every byte may double (quotes), plus a fixed allowance for the rest.
    const room = this.prefix.length + 2 * at[FIELDS * 2]! + 64;
    if (w + room > o.length) {
      if (w > 0) this.push(o.subarray(0, w));
      o = this.out = Buffer.allocUnsafe(Math.max(OUT_BYTES, room));
      w = 0;
    }
    const prefix = this.prefix;
    for (let i = 0; i < prefix.length; i++) o[w++] = prefix[i]!;
    w = uuid(buf, at[2 * F.play_id]!, o, w);
    o[w++] = COMMA;
    w = cell(buf, at[2 * F.date_time_played]!, at[2 * F.date_time_played + 1]!, false, o, w);
    o[w++] = COMMA;
    w = this.receivedAt(buf, at[2 * F.received_at]!, o, w);
    o[w++] = COMMA;
    w = cell(buf, at[2 * F.log_type]!, at[2 * F.log_type + 1]!, false, o, w);
    o[w++] = COMMA;
    w = cell(buf, at[2 * F.user_id]!, at[2 * F.user_id + 1]!, true, o, w);
    o[w++] = COMMA;
    w = cell(buf, at[2 * F.country]!, at[2 * F.country + 1]!, false, o, w);
    o[w++] = COMMA;
    w = decimal(int32(buf, at[2 * F.track_id]!), o, w);
    o[w++] = COMMA;
    w = decimal(int32(buf, at[2 * F.release_id]!), o, w);
    o[w++] = COMMA;
    w = decimal(int32(buf, at[2 * F.format_id]!), o, w);
    o[w++] = COMMA;
    w = cell(buf, at[2 * F.play_mode]!, at[2 * F.play_mode + 1]!, false, o, w);
    o[w++] = COMMA;
    w = cell(buf, at[2 * F.end_reason]!, at[2 * F.end_reason + 1]!, false, o, w);
    o[w++] = COMMA;
    const total = int32(buf, at[2 * F.total_time_played]!);
    w = decimal(total, o, w);
    o[w++] = COMMA;
    w = total >= this.threshold ? ascii(o, w, 'true') : ascii(o, w, 'false');
    o[w++] = COMMA;
    w = cell(buf, at[2 * F.user_agent]!, at[2 * F.user_agent + 1]!, true, o, w);
    o[w++] = COMMA;
    w = cell(buf, at[2 * F.api_key_name]!, at[2 * F.api_key_name + 1]!, true, o, w);
    o[w++] = 10;
    this.w = w;
  }

  /** to_char(received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'). */
  private receivedAt(buf: Buffer, at: number, o: Buffer, w: number): number {
    const hi = int32(buf, at);
    // Within 2^53 µs of 2000 (the years 1715 to 2284) a double holds the value exactly and Date
    // formats it: every received_at Playlog writes. Anything else takes the exact path.
    if (hi < -0x200000 || hi >= 0x200000) return farTimestamp(buf.readBigInt64BE(at), o, w);
    const micros = hi * 4_294_967_296 + (int32(buf, at + 4) >>> 0);
    const second = Math.floor(micros / 1_000_000);
    if (second !== this.lastSecond) {
      this.secondText.write(new Date(PG_EPOCH_MS + second * 1000).toISOString().slice(0, 19), 'latin1');
      this.lastSecond = second;
    }
    const text = this.secondText;
    for (let i = 0; i < 19; i++) o[w++] = text[i]!;
    return millis(Math.floor(micros / 1000) - second * 1000, o, w);
  }
}

/** Ties on played_at: date_time_played by bytes (collate "C"), then play_id (uuid order: bytes). */
function byTies(x: Tuple, y: Tuple): number {
  const d = F.date_time_played * 2;
  const c = x.buf.compare(y.buf, y.at[d]!, y.at[d]! + y.at[d + 1]!, x.at[d]!, x.at[d]! + x.at[d + 1]!);
  if (c !== 0) return c;
  const u = F.play_id * 2;
  return x.buf.compare(y.buf, y.at[u]!, y.at[u]! + 16, x.at[u]!, x.at[u]! + 16);
}
