import { daysIn, digits, type Play } from '@playlog/schema';

/*
 * Plays as the body of `COPY plays (PLAY_COLUMNS) FROM STDIN WITH (FORMAT binary)`: PostgreSQL's binary
 * COPY format (https://www.postgresql.org/docs/15/sql-copy.html, "Binary Format"), each field in its
 * type's send/receive representation. The server takes these without parsing text: a uuid is 16 bytes,
 * a timestamptz 8, an integer 4 (bench/loader/RESULTS.md measures what that saves against CSV).
 * A value that cannot be written is refused with the SQLSTATE Postgres itself would give, so the loader
 * treats it as refused data (it isolates and dead-letters the play) rather than as an unwell database.
 */

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
const FIELDS = 18;
/** Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01T00:00:00Z. */
const PG_EPOCH_MICROS = 946_684_800_000_000;
const TWO_32 = 4_294_967_296;

/** An error carrying a SQLSTATE, as the server's own refusals do. */
class RefusedValue extends Error {
  override name = 'RefusedValue';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** Where each byte's two hex digits start in a canonical uuid. */
const UUID_PAIRS = Uint8Array.of(0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34);

const notAUuid = (s: string) => new RefusedValue('22P02', `invalid input syntax for type uuid: "${s}"`);

/** The form utcMicros reads, whatever the fields' values. */
const INSTANT_FORM = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:[.][0-9]{1,6})?Z$/;

/** Microseconds in play_buckets' 15-minute bucket. */
const BUCKET_MICROS = 15 * 60 * 1_000_000;

/**
 * Microseconds since the Unix epoch of a UTC instant written `YYYY-MM-DDThh:mm:ss[.f{1,6}]Z`, the form
 * plays carry (`playedAt` with 6 digits, `receivedAt` with 3); NaN for anything else, and for instants a
 * double does not hold to the microsecond (before 1685 or after 2255: no play is, since each lies within
 * 61 days of ingest's clock).
 */
export function utcMicros(s: string): number {
  const n = s.length;
  if (n < 20 || s.charCodeAt(n - 1) !== 90 /* Z */ || s.charCodeAt(10) !== 84 /* T */) return Number.NaN;
  const y = digits(s, 0, 4);
  const mo = digits(s, 5, 2);
  const d = digits(s, 8, 2);
  const h = digits(s, 11, 2);
  const mi = digits(s, 14, 2);
  const sec = digits(s, 17, 2);
  if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59) return Number.NaN;
  let micros = 0;
  if (n > 20) {
    const places = n - 21;
    if (s.charCodeAt(19) !== 46 /* . */ || places < 1 || places > 6) return Number.NaN;
    const f = digits(s, 20, places);
    if (f < 0) return Number.NaN;
    micros = f * 10 ** (6 - places);
  }
  // An impossible date (31 February) is not an instant.
  if (d > 28 && d > daysIn(y, mo)) return Number.NaN;
  const v = ((daysFromCivil(y, mo, d) * 24 + h) * 60 + mi) * 60_000_000 + sec * 1_000_000 + micros;
  return Math.abs(v) <= Number.MAX_SAFE_INTEGER ? v : Number.NaN;
}

/**
 * Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's days_from_civil, in integer
 * arithmetic: the same as Date.UTC's days, without its call, for every date utcMicros accepts).
 */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y;
  const era = Math.floor(yy / 400);
  const yoe = yy - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146_097 + doe - 719_468;
}

/** Grows on demand; fields are written big-endian, as the format requires. */
class Out {
  buf: Buffer;
  at = 0;
  /** The last instant written and its microseconds: a message's plays share their receivedAt. */
  private lastInstant = '';
  private lastMicros = 0;
  // Never a slice of Node's shared pool: the body's memory can be handed to another thread (transferred).
  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(size);
  }
  room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
  }
  int16(v: number): void {
    this.room(2);
    this.at = this.buf.writeInt16BE(v, this.at);
  }
  int32(v: number): void {
    this.room(4);
    this.at = this.buf.writeInt32BE(v, this.at);
  }
  null(): void {
    this.int32(-1);
  }
  text(s: string | null): void {
    if (s === null) return this.null();
    // At most 3 bytes of UTF-8 per UTF-16 unit; the length goes before the bytes once they are known.
    const n = s.length;
    this.room(4 + n * 3);
    const buf = this.buf;
    const start = this.at + 4;
    // ASCII byte by byte (most fields are short and ASCII, where this beats Buffer#write's call);
    // anything else through Buffer#write.
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) break;
      buf[start + i] = c;
    }
    const bytes = i === n ? n : buf.write(s, start, 'utf8');
    buf.writeInt32BE(bytes, this.at);
    this.at = start + bytes;
  }
  int4(v: number, column: string): void {
    if (!Number.isInteger(v) || v < -2_147_483_648 || v > 2_147_483_647) {
      throw new RefusedValue('22003', `${column}: ${String(v)} is out of range for type integer`);
    }
    this.int32(4);
    this.int32(v);
  }
  bool(v: boolean): void {
    this.room(5);
    this.at = this.buf.writeInt32BE(1, this.at);
    this.at = this.buf.writeUInt8(v ? 1 : 0, this.at);
  }
  /** The canonical form only (8-4-4-4-12 hex digits), as playIdentity writes it. */
  uuid(s: string): void {
    if (s.length !== 36 || s.charCodeAt(8) !== 45 || s.charCodeAt(13) !== 45 || s.charCodeAt(18) !== 45 || s.charCodeAt(23) !== 45) {
      throw notAUuid(s);
    }
    this.room(20);
    const buf = this.buf;
    let at = buf.writeInt32BE(16, this.at);
    for (let k = 0; k < 16; k++) {
      const i = UUID_PAIRS[k]!;
      const hi = s.charCodeAt(i);
      const lo = s.charCodeAt(i + 1);
      const h = HEX[hi & 127]!;
      const l = HEX[lo & 127]!;
      if (h < 0 || l < 0 || (hi | lo) > 127) throw notAUuid(s);
      buf[at++] = (h << 4) | l;
    }
    this.at = at;
  }
  /** Writes an instant; returns its microseconds since the Unix epoch. */
  timestamptz(s: string, column: string): number {
    const micros = s === this.lastInstant ? this.lastMicros : utcMicros(s);
    if (Number.isNaN(micros)) {
      // As Postgres words it: a field out of range (31 February, hour 24) is 22008, any other form 22007.
      const code = INSTANT_FORM.test(s) ? '22008' : '22007';
      throw new RefusedValue(code, `${column}: not a UTC instant the loader writes (YYYY-MM-DDThh:mm:ss[.ffffff]Z, 1685 to 2255): "${s}"`);
    }
    this.lastInstant = s;
    this.lastMicros = micros;
    // An int64 (microseconds since 2000), from a double that holds it exactly (utcMicros).
    const v = micros - PG_EPOCH_MICROS;
    const high = Math.floor(v / TWO_32);
    this.room(12);
    this.at = this.buf.writeInt32BE(8, this.at);
    this.at = this.buf.writeInt32BE(high, this.at);
    this.at = this.buf.writeUInt32BE(v - high * TWO_32, this.at);
    return micros;
  }
}

/**
 * Reportable plays per client and 15-minute bucket, as countBuckets (buckets.ts) counts them, keyed by
 * the bucket's start in ms: counted by playsCopyBinary from the instants it has already read.
 */
export type BucketTally = Map<string, Map<number, number>>;

/**
 * The binary COPY body of `plays`, columns in PLAY_COLUMNS order: header, one tuple per play, trailer.
 * With `tally`, also counts the reportable (not synthetic) plays per client and bucket into it.
 */
export function playsCopyBinary(plays: readonly Play[], tally?: BucketTally): Buffer {
  const out = new Out(19 + plays.length * 320);
  out.room(SIGNATURE.length);
  out.at += SIGNATURE.copy(out.buf, out.at);
  out.int32(0); // flags: no OIDs
  out.int32(0); // header extension: none
  for (const p of plays) {
    out.int16(FIELDS);
    out.uuid(p.playId);
    const played = out.timestamptz(p.playedAt, 'played_at');
    if (tally && !p.synthetic) {
      let perBucket = tally.get(p.client);
      if (!perBucket) tally.set(p.client, (perBucket = new Map()));
      const bucket = Math.floor(played / BUCKET_MICROS) * (BUCKET_MICROS / 1000);
      perBucket.set(bucket, (perBucket.get(bucket) ?? 0) + 1);
    }
    out.text(p.client);
    out.text(p.apiKeyName);
    out.text(p.clientPlayId);
    out.text(p.logType);
    out.text(p.userId);
    out.text(p.country);
    out.int4(p.trackId, 'track_id');
    out.int4(p.releaseId, 'release_id');
    out.int4(p.formatId, 'format_id');
    out.text(p.playMode);
    out.text(p.endReason);
    out.text(p.dateTimePlayed);
    out.int4(p.totalTimePlayed, 'total_time_played');
    out.text(p.userAgent);
    out.bool(p.synthetic);
    out.timestamptz(p.receivedAt, 'received_at');
  }
  out.int16(-1);
  return out.buf.subarray(0, out.at);
}
