// Unit test of the CopyData parsing: a fake connection feeds a recorded-style byte stream in pieces
// split at every offset. The real server is in copy-out.int.test.ts.
import { PassThrough, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type pg from 'pg';
import t from 'tap';
import { copyOut } from '../src/copy-out.js';

function message(code: string, body: Buffer | string = ''): Buffer {
  const b = Buffer.from(body);
  const head = Buffer.alloc(5);
  head.write(code, 0, 'latin1');
  head.writeUInt32BE(b.length + 4, 1);
  return Buffer.concat([head, b]);
}

const rows = ['a,1\n', 'b,"two\nlines"\n', '', 'c,ü\n'];
const copyOutResponse = message('H', Buffer.from([0, 0, 2, 0, 0, 0, 0]));
const afterCopy = Buffer.concat([message('C', 'COPY 4\0'), message('Z', 'I')]);

/** A stand-in for pg's connection: its socket stream, and pg's own 'data' handler recording what it got. */
function fakeConnection() {
  const stream = new PassThrough();
  const handedToPg: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => handedToPg.push(chunk));
  const sent: string[] = [];
  return { connection: { stream, query: (sql: string) => sent.push(sql) } as unknown as pg.Connection, stream, handedToPg, sent };
}

/**
 * Writes the bytes in pieces of `cut`, letting each be read on its own (else the stream would join them).
 * Each piece is a fresh buffer, as a socket's reads are: copyOut moves rows inside the chunks it reads.
 */
async function feed(stream: PassThrough, bytes: Buffer, cut: number): Promise<void> {
  for (let at = 0; at < bytes.length; at += cut) {
    stream.write(Buffer.from(bytes.subarray(at, at + cut)));
    await new Promise((r) => setImmediate(r));
  }
}

async function run(bytes: Buffer, cut: number, chunkBytes: number) {
  const { connection, stream, handedToPg, sent } = fakeConnection();
  const q = copyOut('copy x to stdout', chunkBytes);
  q.submit(connection);
  const out: Buffer[] = [];
  const done = pipeline(
    q,
    new Writable({
      write(chunk: Buffer, _e, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  await feed(stream, bytes, cut);
  await done;
  await new Promise((r) => setImmediate(r));
  return { out: Buffer.concat(out).toString(), toPg: Buffer.concat(handedToPg), sent };
}

t.test('rows come out whole, and what follows CopyDone goes back to pg, however the bytes are split', async (t) => {
  const notice = message('N', 'SNOTICE\0\0');
  const bytes = Buffer.concat([
    copyOutResponse,
    ...rows.slice(0, 2).map((r) => message('d', r)),
    notice,
    ...rows.slice(2).map((r) => message('d', r)),
    message('c'),
    afterCopy,
  ]);
  const wrong: string[] = [];
  for (const chunkBytes of [3, 1 << 20]) {
    for (let cut = 1; cut <= bytes.length; cut++) {
      const r = await run(bytes, cut, chunkBytes);
      if (r.out !== rows.join('') || !r.toPg.equals(afterCopy))
        wrong.push(`every ${cut} bytes, chunkBytes ${chunkBytes}: ${JSON.stringify(r.out)}`);
    }
  }
  t.same(wrong, [], `all ${2 * bytes.length} splits`);
  const r = await run(bytes, 7, 1024);
  t.same(r.sent, ['copy x to stdout'], 'the query was sent');
  t.equal(r.out, rows.join(''), 'rows in order; the notice is not data');
  t.ok(r.toPg.equals(afterCopy), 'CommandComplete and ReadyForQuery go to pg');
});

t.test('an ErrorResponse mid-copy is handed to pg whole, however the bytes are split', async (t) => {
  const error = message('E', 'SERROR\0C22012\0Mdivision by zero\0\0');
  const bytes = Buffer.concat([copyOutResponse, message('d', 'a,1\n'), error, message('Z', 'I')]);
  const wrong: string[] = [];
  for (let cut = 1; cut <= bytes.length; cut++) {
    const { connection, stream, handedToPg } = fakeConnection();
    const q = copyOut('copy x to stdout', 64);
    q.submit(connection);
    const failed = new Promise<unknown>((resolve) => q.on('error', resolve));
    q.resume(); // flowing, like a pipeline
    await feed(stream, bytes, cut);
    await new Promise((r) => setImmediate(r));
    const toPg = Buffer.concat(handedToPg);
    if (!toPg.equals(Buffer.concat([error, message('Z', 'I')]))) wrong.push(`every ${cut} bytes: pg got ${toPg.toString('hex')}`);
    // pg then reports the error to the query, which fails the stream:
    q.handleError(Object.assign(new Error('division by zero'), { code: '22012' }));
    if (((await failed) as { code?: string }).code !== '22012') wrong.push(`every ${cut} bytes: the stream did not fail with the error`);
  }
  t.same(wrong, [], `all ${bytes.length} splits: pg gets the error and what follows, the stream fails with it`);
});
