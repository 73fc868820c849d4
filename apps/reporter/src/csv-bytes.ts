/**
 * Bytes of client-usage.csv's cells, written straight into an output buffer the way Postgres's
 * `COPY … (FORMAT csv)` and its output functions write them (per-play.ts renders the rows with these).
 * Each writer takes the buffer and the offset to write at, and returns the offset after what it wrote;
 * the caller has made room.
 */
export const COMMA = 44;
const QUOTE = 34;
const APOSTROPHE = 39;
/**
 * A text cell a spreadsheet would run as a formula (OWASP "CSV injection"): one that begins with `=`,
 * `+`, `-`, `@`, a tab or a carriage return gets a leading apostrophe, which spreadsheets show as text.
 * A cell that begins with an apostrophe gets one more, so the rule can be undone: the value sent is the
 * cell without one leading apostrophe, where it begins with one. README, Reports, says the same.
 * Applies to user_id, user_agent and api_key_name; these are their first bytes.
 */
const NEUTRALISE = new Uint8Array(256);
for (const c of [45, 61, 43, 64, 39, 9, 13]) NEUTRALISE[c] = 1;
/** Bytes that make Postgres quote a CSV cell: the delimiter, the quote, LF, CR. */
const NEEDS_QUOTE = new Uint8Array(256);
for (const c of [COMMA, QUOTE, 10, 13]) NEEDS_QUOTE[c] = 1;
const HEX = Buffer.alloc(512);
for (let i = 0; i < 256; i++) HEX.write(i.toString(16).padStart(2, '0'), i * 2, 'latin1');
/** "00" to "99". */
const PAIRS = Buffer.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''), 'latin1');
/** Postgres's epoch (2000-01-01 UTC) in Unix milliseconds. */
export const PG_EPOCH_MS = 946_684_800_000;

/** ".mmmZ" */
export function millis(ms: number, o: Buffer, w: number): number {
  o[w++] = 46; // .
  o[w++] = 48 + ((ms / 100) | 0);
  o[w++] = 48 + (((ms / 10) | 0) % 10);
  o[w++] = 48 + (ms % 10);
  o[w++] = 90; // Z
  return w;
}

const INFINITY = 0x7fffffffffffffffn;
const MINUS_INFINITY = -0x8000000000000000n;

/**
 * A timestamp beyond the years 1715–2284, as to_char writes it: `infinity` as NULL (nothing), years
 * of more than four digits in full, and years BC without a sign (YYYY of 1 BC is 0001).
 */
export function farTimestamp(micros: bigint, o: Buffer, w: number): number {
  if (micros === INFINITY || micros === MINUS_INFINITY) return w;
  const seconds = floorDiv(micros, 1_000_000n);
  const ms = Number((micros - seconds * 1_000_000n) / 1000n);
  // The Gregorian calendar repeats every 400 years: Date formats the same instant of an era it holds.
  const unix = seconds + BigInt(PG_EPOCH_MS / 1000);
  const eras = floorDiv(unix, ERA_SECONDS);
  const date = new Date(Number(unix - eras * ERA_SECONDS) * 1000);
  const year = date.getUTCFullYear() + Number(eras) * 400;
  w += o.write(`${String(year <= 0 ? 1 - year : year).padStart(4, '0')}-${date.toISOString().slice(5, 19)}`, w, 'latin1');
  return millis(ms, o, w);
}

/** 400 Gregorian years: 146 097 days. */
const ERA_SECONDS = 146_097n * 86_400n;

function floorDiv(a: bigint, b: bigint): bigint {
  const q = a / b;
  return q * b > a ? q - 1n : q;
}

export function int32(b: Buffer, p: number): number {
  return (b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!;
}

export function ascii(o: Buffer, w: number, s: string): number {
  for (let i = 0; i < s.length; i++) o[w++] = s.charCodeAt(i);
  return w;
}

/** An int4 in decimal, as Postgres prints it (two digits at a time). */
export function decimal(v: number, o: Buffer, w: number): number {
  if (v < 0) {
    o[w++] = 45;
    v = -v;
  }
  const end = w + digitsOf(v);
  let i = end;
  while (v >= 100) {
    const q = (v / 100) | 0;
    const r = (v - q * 100) * 2;
    o[--i] = PAIRS[r + 1]!;
    o[--i] = PAIRS[r]!;
    v = q;
  }
  if (v >= 10) {
    o[--i] = PAIRS[v * 2 + 1]!;
    o[--i] = PAIRS[v * 2]!;
  } else o[--i] = 48 + v;
  return end;
}

function digitsOf(v: number): number {
  let n = 1;
  for (let x = 10; x <= v && n < 10; x *= 10) n++;
  return n;
}

/** A uuid as Postgres prints it: 8-4-4-4-12 lower-case hex digits. */
export function uuid(buf: Buffer, at: number, o: Buffer, w: number): number {
  w = hex(buf, at, 4, o, w);
  o[w++] = 45;
  w = hex(buf, at + 4, 2, o, w);
  o[w++] = 45;
  w = hex(buf, at + 6, 2, o, w);
  o[w++] = 45;
  w = hex(buf, at + 8, 2, o, w);
  o[w++] = 45;
  return hex(buf, at + 10, 6, o, w);
}

function hex(buf: Buffer, at: number, n: number, o: Buffer, w: number): number {
  for (let i = at, end = at + n; i < end; i++) {
    const b = buf[i]! * 2;
    o[w++] = HEX[b]!;
    o[w++] = HEX[b + 1]!;
  }
  return w;
}

/**
 * Writes `n` bytes of `src` at `start` into `o` at `w` as one CSV cell, the way Postgres's COPY … CSV
 * does: nothing for NULL (n = -1); quoted when empty or holding a comma, quote, LF or CR, with quotes
 * doubled. With `neutralise`, a value beginning with a formula character gets a leading apostrophe
 * first (NEUTRALISE). Returns where the cell ends.
 */
export function cell(src: Buffer, start: number, n: number, neutralise: boolean, o: Buffer, w: number): number {
  if (n <= 0) {
    if (n === 0) {
      o[w++] = QUOTE;
      o[w++] = QUOTE;
    }
    return w;
  }
  const from = w;
  if (neutralise && NEUTRALISE[src[start]!] === 1) o[w++] = APOSTROPHE;
  for (let i = start, end = start + n; i < end; i++) {
    const c = src[i]!;
    if (NEEDS_QUOTE[c] === 1) return quoted(src, i, end, o, from, w);
    o[w++] = c;
  }
  return w;
}

/**
 * The rest of a cell that needs quotes, from its first byte that does (at `i`): what was written of
 * it (from `from` to `w`: no quote among it, since a quote needs quotes) moves one byte up behind the
 * opening quote, and the rest follows with its quotes doubled.
 */
function quoted(src: Buffer, i: number, end: number, o: Buffer, from: number, w: number): number {
  o.copyWithin(from + 1, from, w);
  o[from] = QUOTE;
  w++;
  for (; i < end; i++) {
    const c = src[i]!;
    if (c === QUOTE) o[w++] = QUOTE;
    o[w++] = c;
  }
  o[w++] = QUOTE;
  return w;
}

/** A whole value as one CSV cell (the file's constant cells). */
export function csvCell(value: Buffer): Buffer {
  const o = Buffer.allocUnsafe(2 * value.length + 3);
  return o.subarray(0, cell(value, 0, value.length, false, o, 0));
}
