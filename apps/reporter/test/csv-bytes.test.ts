import t from 'tap';
import { cell, csvCell, decimal, uuid } from '../src/csv-bytes.js';

// The writers alone; per-play.test.ts and per-play.int.test.ts check them in whole rows against Postgres.

const written = (write: (o: Buffer, w: number) => number): string => {
  const o = Buffer.alloc(256);
  return o.subarray(3, write(o, 3)).toString(); // from an offset: each returns where it ended
};

t.test('cell: as COPY … CSV writes it, with the leading apostrophe when asked', async (t) => {
  const text = (v: string, neutralise = false) => {
    const b = Buffer.from(`xx${v}`);
    return written((o, w) => cell(b, 2, b.length - 2, neutralise, o, w));
  };
  t.equal(text('plain'), 'plain');
  t.equal(text(''), '""');
  t.equal(text('a,b'), '"a,b"');
  t.equal(text('say "hi"'), '"say ""hi"""');
  t.equal(text('=1', true), "'=1");
  t.equal(text('=1'), '=1');
  t.equal(text('\r=', true), `"'\r="`);
  t.equal(
    written((o, w) => cell(Buffer.alloc(0), 0, -1, true, o, w)),
    '',
    'NULL: nothing',
  );
  t.equal(csvCell(Buffer.from('a"b')).toString(), '"a""b"');
});

t.test('decimal and uuid', async (t) => {
  for (const v of [0, 7, 10, 99, 100, 12345, 2147483647, -1, -2147483648])
    t.equal(
      written((o, w) => decimal(v, o, w)),
      String(v),
    );
  const id = '0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9';
  t.equal(
    written((o, w) => uuid(Buffer.from(id.replaceAll('-', ''), 'hex'), 0, o, w)),
    id,
  );
});
