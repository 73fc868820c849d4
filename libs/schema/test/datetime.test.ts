import t from 'tap';
import { instantIsoUtc, instantKey, parseDateTime } from '../src/index.js';

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
