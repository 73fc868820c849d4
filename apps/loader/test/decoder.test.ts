import t from 'tap';
import { encodePlay, encodePlays, gateMarker, gateSecret } from '@playlog/schema';
import { testPlay } from '@playlog/testing';
import { decodeBatch } from '../src/decode.js';
import { decoders, workerDecoder } from '../src/decoder.js';

const now = Date.now();
const rules = { now, skewMs: 300_000 };
const day = new Date(now - 3_600_000).toISOString();
const plays = Array.from({ length: 600 }, (_, i) => testPlay(i % 2 ? 'acme' : 'zeta', i, day, now));
const RUN = '6f1c2a34-5b6d-4e7f-8a9b-0c1d2e3f4a5b';
const secret = gateSecret(Buffer.alloc(32, 7).toString('base64'));
const values = [
  encodePlays(plays.slice(0, 500)),
  null,
  Buffer.from('not json'),
  encodePlay(plays[500]!),
  gateMarker(RUN, 2, secret),
  encodePlays(plays.slice(501)),
];

t.test('a worker thread decodes and renders a batch exactly as the loop thread does', async (t) => {
  const failures: Error[] = [];
  const d = decoders(2, (err) => failures.push(err));
  t.teardown(() => d.close());
  const inline = decodeBatch(values, rules);
  for (let round = 0; round < 3; round++) {
    const got = await d.decode(values, rules);
    t.equal(got.plays, 600, 'every good play');
    t.ok(got.prepared && Buffer.isBuffer(got.prepared.body), 'the COPY body comes back as a Buffer');
    t.ok(got.prepared!.body.equals(inline.prepared!.body), 'byte for byte the inline COPY body');
    t.same([...got.prepared!.buckets], [...inline.prepared!.buckets], 'the same bucket counts');
    t.same(got.prepared!.days, inline.prepared!.days);
    t.same(
      got.refused.map((r) => [r.at, r.kind, r.reason]),
      [
        [1, 'unparsable', 'empty message'],
        [2, 'unparsable', inline.refused[1]!.reason],
      ],
      'refusals with the index of their message',
    );
    t.same(
      got.gates.map((g) => [g.at, g.marker.run]),
      [[4, RUN]],
      'the gate marker, for the loop to authenticate',
    );
  }
  t.same(failures, [], 'no worker failed');
});

t.test('a batch in flight when its worker stops is decoded inline, and so is every later one', async (t) => {
  const failures: Error[] = [];
  const d = workerDecoder((err) => failures.push(err));
  const inFlight = d.decode(values, rules);
  await d.close();
  const [a, b] = await Promise.all([inFlight, d.decode(values, rules)]);
  t.equal(a.plays, 600, 'the batch in flight is decoded');
  t.equal(b.plays, 600, 'a later batch is decoded');
  t.ok(b.prepared!.body.equals(decodeBatch(values, rules).prepared!.body));
  t.same(failures, [], 'a worker closed on purpose is not reported as failed');
});
