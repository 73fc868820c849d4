import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import t from 'tap';
import pg from 'pg';
import copyStreams from 'pg-copy-streams';
import type { Test } from 'tap';
import { defaults } from '@playlog/config';
import { copyOut, PG_VERIFIED } from '../src/copy-out.js';
import { databaseAs } from './helpers.js';

/** Collects a stream's chunks. */
function sink(): { chunks: Buffer[]; stream: Writable } {
  const chunks: Buffer[] = [];
  return {
    chunks,
    stream: new Writable({
      write(chunk: Buffer, _enc, done) {
        chunks.push(chunk);
        done();
      },
    }),
  };
}

async function client(t: Test): Promise<pg.Client> {
  // The stack's database (libs/testing cannot be used here: it depends on this library).
  const c = new pg.Client({ connectionString: databaseAs(process.env.DATABASE_URL ?? defaults.databaseUrl) });
  await c.connect();
  t.teardown(() => c.end());
  return c;
}

// Rows with CSV quoting, newlines and multi-byte text, long enough to cross many socket reads.
const ROWS = 120_000;
const COPY = `copy (select g, 'row "' || g || E'"\\nsecond line, ünïcödé', repeat('x', g % 300), null::text
                      from generate_series(1, ${ROWS}) g) to stdout with (format csv, header true)`;

t.test("pinned to pg's internals: another pg version fails here until copy-out is verified against it", async (t) => {
  const pgMain = createRequire(import.meta.url).resolve('pg'); // …/pg/lib/index.js
  const installed = (JSON.parse(readFileSync(join(dirname(pgMain), '..', 'package.json'), 'utf8')) as { version: string }).version;
  t.equal(
    installed,
    PG_VERIFIED,
    `copy-out.ts reads pg's socket itself; pg is now ${installed}: run this file, copy-out.test.ts and bench/reporter ` +
      'against it, then set PG_VERIFIED in apps/reporter/src/copy-out.ts',
  );
  const c = await client(t);
  const connection = (c as unknown as { connection: pg.Connection }).connection;
  t.ok(connection?.stream, "the client's Connection holds the socket as .stream");
  t.equal(connection.stream.listeners('data').length, 1, "pg reads the socket through exactly one 'data' listener");
  t.type(connection.query, 'function', 'Connection.query sends a simple query');
});

t.test('copies the same bytes as pg-copy-streams, in chunks of at most chunkBytes, and counts the rows', async (t) => {
  const c = await client(t);
  const ref = sink();
  await pipeline(c.query(copyStreams.to(COPY)), ref.stream);
  const got = sink();
  const q = copyOut(COPY, 64 * 1024);
  await pipeline(c.query(q), got.stream);
  const expected = Buffer.concat(ref.chunks);
  t.ok(expected.length > 20_000_000, `a copy of ${expected.length} bytes`);
  t.ok(Buffer.concat(got.chunks).equals(expected), 'same bytes');
  t.equal(q.rowCount, ROWS, 'rowCount from CommandComplete');
  t.ok(Math.max(...got.chunks.map((b) => b.length)) <= 64 * 1024, 'no chunk above chunkBytes');
  t.ok(got.chunks.length < expected.length / 16_384, `few, large chunks (${got.chunks.length})`);
  t.equal((await c.query('select 41 + 1 as n')).rows[0].n, 42, 'the connection answers queries afterwards');
});

t.test('a row longer than chunkBytes is passed through whole', async (t) => {
  const c = await client(t);
  const got = sink();
  await pipeline(c.query(copyOut(`copy (select repeat('y', 5000) from generate_series(1, 3)) to stdout`, 1024)), got.stream);
  t.equal(Buffer.concat(got.chunks).toString(), `${'y'.repeat(5000)}\n`.repeat(3));
});

t.test('an error before the first row fails the stream with the server error; the connection stays usable', async (t) => {
  const c = await client(t);
  await t.rejects(pipeline(c.query(copyOut('copy (select * from no_such_table) to stdout')), sink().stream), {
    code: '42P01',
  });
  t.equal((await c.query('select 1 as n')).rows[0].n, 1);
});

t.test('an error after many rows fails the stream; the connection stays usable', async (t) => {
  const c = await client(t);
  const got = sink();
  await t.rejects(
    pipeline(c.query(copyOut(`copy (select 1000 / (50000 - g) from generate_series(1, 60000) g) to stdout`, 4096)), got.stream),
    { code: '22012' }, // division_by_zero
  );
  t.ok(got.chunks.length > 0, 'rows before the error were streamed');
  t.equal((await c.query('select 2 as n')).rows[0].n, 2);
});

t.test('a slow consumer holds the copy back without losing bytes (backpressure)', async (t) => {
  const c = await client(t);
  let bytes = 0;
  const slow = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      setTimeout(done, 1);
    },
  });
  await pipeline(c.query(copyOut(`copy (select repeat('z', 99) from generate_series(1, 20000)) to stdout`, 16 * 1024)), slow);
  t.equal(bytes, 20_000 * 100);
});
