import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import t from 'tap';
import { DailyOrderCheck } from '../src/daily-order.js';

const HEADER =
  'date,client,log_type,country,track_id,release_id,play_mode,streams,royalty_bearing_streams,unique_listeners,seconds_played\n';
const row = (key: string) => `2026-11-25,acme,${key},3,1,2,91\n`;

/** The file through the check in chunks of `size` bytes: its problem, and whether the bytes came out unchanged. */
async function checked(file: string, size = file.length): Promise<string | undefined> {
  const bytes = Buffer.from(file);
  const chunks = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  const check = new DailyOrderCheck();
  const out = await buffer(Readable.from(chunks).pipe(check));
  if (!out.equals(bytes)) throw new Error('the check changed the bytes');
  return check.problem;
}

const ordered =
  HEADER +
  [
    'catalogue,AU,1,10,',
    'catalogue,AU,1,10,offline',
    'catalogue,AU,2,9,',
    'catalogue,GB,9,10,',
    'catalogue,GB,10,10,', // 9 < 10 by value, not by text
    'subscription,AU,0,1,online',
    'subscription,AU,0,1,online-cached',
    'subscription,GB,2147483647,1,online',
  ]
    .map(row)
    .join('');

t.test('rows in daily-usage.csv order pass, whatever the chunks; the bytes go through unchanged', async (t) => {
  for (const size of [1, 2, 3, 7, 64, ordered.length]) t.equal(await checked(ordered, size), undefined, `chunks of ${size}`);
  t.equal(await checked(HEADER), undefined, 'a header alone');
});

t.test('a row not after the one before, a missing key, a quoted or a non-integer cell: a problem naming the row', async (t) => {
  const swap = HEADER + row('subscription,AU,0,1,online') + row('catalogue,AU,1,10,');
  t.equal(await checked(swap, 5), 'daily-usage.csv row 2 is not after the row before it');
  t.equal(
    await checked(HEADER + row('catalogue,GB,10,10,') + row('catalogue,GB,9,10,')),
    'daily-usage.csv row 2 is not after the row before it',
  );
  t.equal(
    await checked(HEADER + row('catalogue,GB,9,10,') + row('catalogue,GB,9,10,')),
    'daily-usage.csv row 2 is not after the row before it',
    'a key twice',
  );
  t.equal(
    await checked(HEADER + row('catalogue,GB,9,10,online') + row('catalogue,GB,9,10,')),
    'daily-usage.csv row 2 is not after the row before it',
    'a NULL play mode comes first',
  );
  t.equal(await checked(HEADER + row(',GB,9,10,')), 'daily-usage.csv row 1 has no log_type or country');
  t.equal(await checked(HEADER + row('catalogue,,9,10,')), 'daily-usage.csv row 1 has no log_type or country');
  t.equal(await checked(HEADER + row('catalogue,"G,B",9,10,')), 'daily-usage.csv row 1 has a quoted cell among its first seven');
  t.equal(
    await checked(HEADER + row('catalogue,GB,9,10,') + row('catalogue,GB,x,10,')),
    'daily-usage.csv row 2 is not after the row before it',
  );
  t.equal(await checked(HEADER + '2026-11-25,acme,catalogue\n'), 'daily-usage.csv row 1 has fewer cells than daily-usage.csv');
  t.equal(await checked(ordered.slice(0, -1)), 'the file does not end with a line end');
});
