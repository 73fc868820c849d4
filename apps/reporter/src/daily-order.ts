import { Transform, type TransformCallback } from 'node:stream';

const COMMA = 44;
const QUOTE = 34;
const LF = 10;
/** date, client, then the key: log_type, country, track_id, release_id, play_mode. */
const CELLS = 7;
const LOG_TYPE = 2;
const COUNTRY = 3;
const TRACK = 4;
const RELEASE = 5;
const PLAY_MODE = 6;

/**
 * Passes daily-usage.csv's bytes through unchanged and checks, on the way, that its rows are in the
 * file's order (log_type, country by bytes, track_id, release_id, play_mode by bytes, each row's key
 * above the one before: collate "C", as dailyUsageCopy sorts), and that every row has a log type and a
 * country. A `keyed` aggregate copied in its stored order (usage.ts) passes; `problem` says why a file
 * did not. The COPY is always read to its end (a connection left mid-COPY cannot go on with the
 * report's transaction): the caller looks at `problem` once the file is written, and writes it again
 * from the exact plan, sorted, if there is one. A key cell in quotes is a problem too: Playlog's keys
 * never need them, so the check never has to unquote.
 */
export class DailyOrderCheck extends Transform {
  problem: string | undefined;
  private rest: Buffer | undefined;
  private header = true;
  private row = 0;
  /** The row checked last: the buffer it is in, and its cells (start, end). Chunks are never changed, only kept. */
  private last: Buffer | undefined;
  private lastAt = new Int32Array(CELLS * 2);
  private at = new Int32Array(CELLS * 2);

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.problem === undefined) this.scan(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.problem === undefined && this.rest !== undefined) this.problem = 'the file does not end with a line end';
    done();
  }

  private scan(chunk: Buffer): void {
    let buf = chunk;
    if (this.rest) {
      buf = Buffer.concat([this.rest, chunk]);
      this.rest = undefined;
    }
    let start = 0;
    for (let end = buf.indexOf(LF); end !== -1 && this.problem === undefined; end = buf.indexOf(LF, start)) {
      if (this.header) this.header = false;
      else this.check(buf, start, end);
      start = end + 1;
    }
    if (start < buf.length && this.problem === undefined) this.rest = buf.subarray(start);
  }

  private check(buf: Buffer, start: number, end: number): void {
    this.row++;
    const at = this.at;
    let i = start;
    for (let c = 0; c < CELLS; c++) {
      if (i > end) return this.fail('has fewer cells than daily-usage.csv');
      if (buf[i] === QUOTE) return this.fail('has a quoted cell among its first seven');
      let comma = buf.indexOf(COMMA, i);
      if (comma === -1 || comma > end) comma = end;
      at[2 * c] = i;
      at[2 * c + 1] = comma;
      i = comma + 1;
    }
    if (at[2 * LOG_TYPE] === at[2 * LOG_TYPE + 1] || at[2 * COUNTRY] === at[2 * COUNTRY + 1])
      return this.fail('has no log_type or country');
    const last = this.last;
    // Strictly after (each key is one group); NaN, from a cell that is not an integer, fails too.
    if (last !== undefined && !(this.compareWithLast(buf) > 0)) return this.fail('is not after the row before it');
    this.last = buf;
    this.at = this.lastAt;
    this.lastAt = at;
  }

  /** This row's key (in `this.at`) against the last one's: text cells by bytes, integers by value. */
  private compareWithLast(buf: Buffer): number {
    const a = this.at;
    const b = this.lastAt;
    const last = this.last!;
    let d = bytes(buf, a[2 * LOG_TYPE]!, a[2 * LOG_TYPE + 1]!, last, b[2 * LOG_TYPE]!, b[2 * LOG_TYPE + 1]!);
    if (d === 0) d = bytes(buf, a[2 * COUNTRY]!, a[2 * COUNTRY + 1]!, last, b[2 * COUNTRY]!, b[2 * COUNTRY + 1]!);
    if (d === 0) d = integer(buf, a[2 * TRACK]!, a[2 * TRACK + 1]!) - integer(last, b[2 * TRACK]!, b[2 * TRACK + 1]!);
    if (d === 0) d = integer(buf, a[2 * RELEASE]!, a[2 * RELEASE + 1]!) - integer(last, b[2 * RELEASE]!, b[2 * RELEASE + 1]!);
    if (d === 0) d = bytes(buf, a[2 * PLAY_MODE]!, a[2 * PLAY_MODE + 1]!, last, b[2 * PLAY_MODE]!, b[2 * PLAY_MODE + 1]!);
    return d;
  }

  private fail(why: string): void {
    this.problem = `daily-usage.csv row ${this.row} ${why}`;
  }
}

/** Cell x against cell y, by bytes (collate "C"); the cells are short, so a loop beats a native call. */
function bytes(x: Buffer, xs: number, xe: number, y: Buffer, ys: number, ye: number): number {
  for (; xs < xe && ys < ye; xs++, ys++) if (x[xs] !== y[ys]) return x[xs]! - y[ys]!;
  return xe - xs - (ye - ys);
}

/** A decimal integer cell (NaN if it is not one: the comparison then fails, and so does the check). */
function integer(buf: Buffer, start: number, end: number): number {
  if (start === end) return Number.NaN;
  const negative = buf[start] === 45;
  let v = 0;
  for (let i = negative ? start + 1 : start; i < end; i++) {
    const d = buf[i]! - 48;
    if (d < 0 || d > 9) return Number.NaN;
    v = v * 10 + d;
  }
  return negative ? -v : v;
}
