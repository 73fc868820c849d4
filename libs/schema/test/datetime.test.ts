import t from 'tap';
import { dateTimeMillis, instantIsoUtc, instantKey, instantMillis, parseDateTime } from '../src/datetime.js';

t.test('parses Z and ±hh:mm with up to 7 fractional digits', async (t) => {
  const z = parseDateTime('2021-05-10T11:39:28.8981203Z');
  t.same(z, { epochSeconds: Date.UTC(2021, 4, 10, 11, 39, 28) / 1000, fraction: '8981203' });
  const plus = parseDateTime('2021-05-10T12:39:28.8981203+01:00');
  t.equal(instantKey(plus!), instantKey(z!), 'the same instant in another offset has the same key');
  const minus = parseDateTime('2021-05-10T06:09:28.8981203-05:30');
  t.equal(instantKey(minus!), instantKey(z!));
  t.equal(parseDateTime('2021-05-10T11:39:28Z')!.fraction, '0000000');
  t.equal(parseDateTime('2021-05-10T11:39:28.5Z')!.fraction, '5000000');
});

t.test('rejects what is not a zoned ISO 8601 date-time', async (t) => {
  for (const bad of [
    '2021-05-10T11:39:28', // no zone
    '2021-05-10 11:39:28Z',
    '2021-05-10T11:39:28.12345678Z', // 8 digits
    '2021-02-29T00:00:00Z', // not a leap year
    '2021-13-01T00:00:00Z',
    '2021-05-10T24:00:00Z',
    '2021-05-10T11:39:28+1:00',
    '2021-05-10T11:39:28+15:00',
    '1620646768',
    '',
  ]) {
    t.equal(parseDateTime(bad), undefined, bad);
  }
  t.ok(parseDateTime('2024-02-29T00:00:00Z'), 'leap day');
});

t.test('UTC form truncates the 7th digit, never rounding across midnight', async (t) => {
  t.equal(instantIsoUtc(parseDateTime('2021-05-10T23:59:59.9999999Z')!), '2021-05-10T23:59:59.999999Z');
  t.equal(instantIsoUtc(parseDateTime('2021-05-11T01:00:00.1+02:00')!), '2021-05-10T23:00:00.100000Z');
});

t.test('instantIsoUtc agrees with Date for every day of years 0001-9999 and random instants', async (t) => {
  const viaDate = (epochSeconds: number) => new Date(epochSeconds * 1000).toISOString().slice(0, 19);
  const wrong: string[] = [];
  const check = (epochSeconds: number) => {
    const got = instantIsoUtc({ epochSeconds, fraction: '1234567' });
    const want = `${viaDate(epochSeconds)}.123456Z`;
    if (got !== want) wrong.push(`${epochSeconds}: ${got} ≠ ${want}`);
  };
  const first = Date.parse('0001-01-01T00:00:00Z') / 1000;
  const last = Date.UTC(9999, 11, 31, 23, 59, 59) / 1000;
  for (let day = first; day <= last; day += 86_400) {
    check(day); // midnight
    check(day + 86_399); // one second before the next
  }
  let seed = 7;
  for (let k = 0; k < 200_000; k++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    check(first + Math.floor((seed / 2 ** 31) * (last - first)));
  }
  t.same(wrong.slice(0, 5), [], `${wrong.length} mismatches`);
});

/** The regular expression parseDateTime used before it scanned characters: the reference it must match. */
const REFERENCE = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,7}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
function referenceParse(text: string): { epochSeconds: number; fraction: string } | undefined {
  const m = REFERENCE.exec(text);
  if (!m) return undefined;
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((k) => Number(m[k]));
  const leap = (year! % 4 === 0 && year! % 100 !== 0) || year! % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  if (month! < 1 || month! > 12 || day! < 1 || day! > days[month! - 1]!) return undefined;
  if (hour! > 23 || minute! > 59 || second! > 59) return undefined;
  let offset = 0;
  if (!m[8]) {
    if (Number(m[10]) > 14 || Number(m[11]) > 59) return undefined;
    offset = (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11]));
  }
  const ms = Date.UTC(year!, month! - 1, day!, hour!, minute!, second!);
  return { epochSeconds: ms / 1000 - offset * 60, fraction: (m[7] ?? '').padEnd(7, '0') };
}

t.test('the character scanner accepts and reads exactly what the regular expression did', async (t) => {
  const seeds = [
    '2021-05-10T11:39:28.8981203Z',
    '2024-02-29t23:59:59.1-05:30',
    '1999-12-31T00:00:00+14:00',
    '2026-11-26T12:00:00.123z',
    '0099-01-01T00:00:00Z',
  ];
  const alphabet = '0123456789-+:.TtZz x\u0660１';
  let seed = 11;
  const rand = (n: number) => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return Math.floor((seed / 2 ** 31) * n);
  };
  const wrong: string[] = [];
  let accepted = 0;
  for (let k = 0; k < 200_000; k++) {
    let s = seeds[rand(seeds.length)]!;
    for (let e = rand(3); e > 0; e--) {
      const i = rand(s.length + 1);
      const c = alphabet[rand(alphabet.length)]!;
      const op = rand(3);
      s = op === 0 ? s.slice(0, i) + c + s.slice(i + 1) : op === 1 ? s.slice(0, i) + c + s.slice(i) : s.slice(0, i) + s.slice(i + 1);
    }
    const want = referenceParse(s);
    const got = parseDateTime(s);
    const ms = dateTimeMillis(s);
    if (want) accepted++;
    if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${JSON.stringify(s)}: ${JSON.stringify(got)} ≠ ${JSON.stringify(want)}`);
    else if (want ? ms !== instantMillis(want) : !Number.isNaN(ms)) wrong.push(`${JSON.stringify(s)}: millis ${ms}`);
  }
  t.same(wrong.slice(0, 5), [], `${wrong.length} disagreements`);
  t.ok(accepted > 20_000, `${accepted} of 200 000 mutated strings were valid date-times, so both sides were exercised`);
});
