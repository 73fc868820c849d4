import { generateKeyPairSync } from 'node:crypto';
import t from 'tap';
import { feedSigningKey, feedVerifyingKeys, readFeedRecord, snapshotMessage, type KeySnapshot } from '../src/key-feed.js';

const pair = () => generateKeyPairSync('ed25519');
const core = pair();
const verifiers = feedVerifyingKeys([core.publicKey.export({ type: 'spki', format: 'pem' })]);
const NOW = Date.parse('2026-12-07T12:00:00Z');
const snapshot: KeySnapshot = {
  generation: 1_796_000_000_000,
  issuedAt: NOW - 1_000,
  keys: [{ hash: 'a'.repeat(64), id: 7, client: 'acme', name: 'main' }],
};
const read = (m: { key: string; value: Buffer }, now = NOW) => readFeedRecord(m.key, m.value, verifiers, now, 300_000);

t.test('a snapshot signed by the core reads back as it was', async (t) => {
  t.same(read(snapshotMessage(snapshot, core.privateKey)), { kind: 'snapshot', snapshot });
  const pem = core.privateKey.export({ type: 'pkcs8', format: 'pem' });
  t.same(read(snapshotMessage(snapshot, feedSigningKey(pem))), { kind: 'snapshot', snapshot }, 'with the key read from its PEM file');
});

t.test('a record the core did not sign changes nothing, whatever its shape', async (t) => {
  const signed = snapshotMessage(snapshot, core.privateKey);
  const envelope = JSON.parse(signed.value.toString()) as { v: number; kid: string; payload: string; sig: string };
  const altered = { ...envelope, payload: envelope.payload.replace('"client":"acme"', '"client":"smoke"') };
  t.match(read({ key: 'snapshot', value: Buffer.from(JSON.stringify(altered)) }), { kind: 'rejected', reason: 'bad_signature' }, 'altered');

  const forger = pair();
  t.match(read(snapshotMessage(snapshot, forger.privateKey)), { kind: 'rejected', reason: 'unknown_signer' }, 'signed by another key');
  const borrowed = { ...JSON.parse(snapshotMessage(snapshot, forger.privateKey).value.toString()), kid: envelope.kid };
  t.match(
    read({ key: 'snapshot', value: Buffer.from(JSON.stringify(borrowed)) }),
    { kind: 'rejected', reason: 'bad_signature' },
    "with the core's id",
  );

  const v1 = Buffer.from(JSON.stringify({ v: 1, id: 7, client: 'acme', name: 'main', revoked: false }));
  t.match(read({ key: `key:${'a'.repeat(64)}`, value: v1 }), { kind: 'rejected', reason: 'unsigned' }, 'the old unsigned format');
  t.match(read({ key: 'heartbeat', value: Buffer.from('{"v":1,"heartbeat":"9999-12-31T00:00:00Z"}') }), {
    kind: 'rejected',
    reason: 'unsigned',
  });
  t.match(read({ key: 'snapshot', value: Buffer.from('not json') }), { kind: 'rejected', reason: 'malformed' });
  t.match(read({ key: 'other', value: signed.value }), { kind: 'rejected', reason: 'unsigned' }, 'a snapshot under another record key');
});

t.test('a snapshot issued in the future (beyond the skew) is refused, even signed', async (t) => {
  const ahead = snapshotMessage({ ...snapshot, issuedAt: Date.parse('9999-12-31T00:00:00Z') }, core.privateKey);
  t.match(read(ahead), { kind: 'rejected', reason: 'from_future' });
  const withinSkew = snapshotMessage({ ...snapshot, issuedAt: NOW + 200_000 }, core.privateKey);
  t.match(read(withinSkew), { kind: 'snapshot' }, 'a clock 200 s ahead is within the 300 s skew');
});

t.test('signed keys are still checked: a client that is not a client name is malformed', async (t) => {
  const bad = snapshotMessage({ ...snapshot, keys: [{ hash: 'a'.repeat(64), id: 7, client: '../etc', name: 'main' }] }, core.privateKey);
  t.match(read(bad), { kind: 'rejected', reason: 'malformed' });
});

t.test('only Ed25519 keys are taken as the feed’s keys', async (t) => {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  t.throws(() => feedSigningKey(rsa.privateKey.export({ type: 'pkcs8', format: 'pem' })), /not an Ed25519 private key/);
  t.throws(() => feedVerifyingKeys([rsa.publicKey.export({ type: 'spki', format: 'pem' })]), /not an Ed25519 public key/);
});
