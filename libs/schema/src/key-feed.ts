import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { CLIENT_NAME, unsafeText } from './text.js';

/**
 * The API-key feed: how ingest knows the keys without reaching Postgres, and why it can trust them.
 * The core publishes signed snapshots of every active key to a compacted topic (key `snapshot`, so the
 * topic keeps the latest); ingest reads it from the beginning and keeps following it (in two sites,
 * through MirrorMaker from the core to the edge). Records carry the SHA-256 of a key, never the key.
 *
 * A snapshot is complete: a key it does not list is not a key (revoked, or never issued). It is signed
 * with Ed25519 by the core (the private key only where keys are published: the loader and the keys
 * CLI), and carries a generation that Postgres makes strictly greater for every snapshot read later
 * (libs/db keys: a counter under a row lock, never below the clock in ms). Ingest applies a snapshot only
 * if its signature verifies with a configured public key, its generation is greater than the one it
 * holds, and it was not issued in the future; so a forged, altered, replayed or out-of-order record
 * changes nothing. The time it was issued doubles as the heartbeat: ingest trusts its keys for
 * KEY_STALE_SECONDS after it.
 *
 *   value: {"v":2,"kid":"<signer id>","payload":"<snapshot JSON, as signed>","sig":"<base64 Ed25519>"}
 *   payload: {"generation":N,"issuedAt":"<ISO>","keys":[{"hash":"<sha256 hex>","id":7,"client":"acme","name":"main"}, …]}
 */
export interface FeedKey {
  /** SHA-256 of the API key, hex. */
  hash: string;
  id: number;
  client: string;
  name: string;
}

export interface KeySnapshot {
  generation: number;
  /** When the keys were read from Postgres (ms since the epoch). */
  issuedAt: number;
  keys: FeedKey[];
}

/** The record key every snapshot is written under: compaction keeps the latest. */
export const SNAPSHOT_KEY = 'snapshot';

/** Why a record changed nothing (the label of ingest's rejection metric). */
export type FeedRejection = 'unsigned' | 'malformed' | 'unknown_signer' | 'bad_signature' | 'from_future' | 'not_newer';

export type FeedRecord = { kind: 'snapshot'; snapshot: KeySnapshot } | { kind: 'rejected'; reason: FeedRejection; detail: string };

export interface FeedMessage {
  key: string;
  value: Buffer;
}

/** A signer's id: the first 8 bytes of the SHA-256 of its public key (SPKI DER), hex. Names the key to verify with. */
export function signerId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256')
    .update(pub.export({ type: 'spki', format: 'der' }))
    .digest('hex')
    .slice(0, 16);
}

/** An Ed25519 private key from its PEM text (KEY_FEED_SIGNING_KEY_FILE); throws if it is not one. */
export function feedSigningKey(pem: string | Buffer): KeyObject {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`not an Ed25519 private key (${key.asymmetricKeyType})`);
  return key;
}

/** The Ed25519 public keys ingest verifies with (KEY_FEED_PUBLIC_KEY_FILE, one or more), by signer id. */
export function feedVerifyingKeys(pems: (string | Buffer)[]): Map<string, KeyObject> {
  const out = new Map<string, KeyObject>();
  for (const pem of pems) {
    const key = createPublicKey(pem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`not an Ed25519 public key (${key.asymmetricKeyType})`);
    out.set(signerId(key), key);
  }
  return out;
}

/** The signed record of a snapshot. */
export function snapshotMessage(snapshot: KeySnapshot, signingKey: KeyObject): FeedMessage {
  const payload = JSON.stringify({
    generation: snapshot.generation,
    issuedAt: new Date(snapshot.issuedAt).toISOString(),
    keys: snapshot.keys.map((k) => ({ hash: k.hash, id: k.id, client: k.client, name: k.name })),
  });
  const sig = sign(null, Buffer.from(payload, 'utf8'), signingKey).toString('base64');
  return { key: SNAPSHOT_KEY, value: Buffer.from(JSON.stringify({ v: 2, kid: signerId(signingKey), payload, sig })) };
}

const HASH = /^[0-9a-f]{64}$/;

function readKeys(list: unknown): FeedKey[] | string {
  if (!Array.isArray(list)) return 'keys is not a list';
  const out: FeedKey[] = [];
  for (const k of list as Record<string, unknown>[]) {
    const { hash, id, client, name } = k ?? {};
    if (typeof hash !== 'string' || !HASH.test(hash)) return 'a key without a SHA-256 hash';
    if (typeof id !== 'number' || !Number.isSafeInteger(id)) return `key ${hash.slice(0, 8)}…: id must be a whole number`;
    if (typeof client !== 'string' || !CLIENT_NAME.test(client)) return `key ${hash.slice(0, 8)}…: client is not a client name`;
    if (typeof name !== 'string' || unsafeText(name)) return `key ${hash.slice(0, 8)}…: name must be text without control characters`;
    out.push({ hash, id, client, name });
  }
  return out;
}

/**
 * Reads and verifies one feed record: a snapshot if it is signed by one of `verifiers` and was not
 * issued more than `skewMs` after `now`; else why not. (Whether it is newer than what the reader holds
 * is the reader's check.)
 */
export function readFeedRecord(
  key: Buffer | string | null | undefined,
  value: Buffer | null | undefined,
  verifiers: Map<string, KeyObject>,
  now: number,
  skewMs: number,
): FeedRecord {
  const reject = (reason: FeedRejection, detail: string): FeedRecord => ({ kind: 'rejected', reason, detail });
  const k = key?.toString() ?? '';
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(value?.toString('utf8') ?? '') as Record<string, unknown>;
  } catch {
    return reject('malformed', `record ${k}: value is not JSON`);
  }
  if (typeof body !== 'object' || body === null) return reject('malformed', `record ${k}: not an object`);
  if (body.v !== 2 || k !== SNAPSHOT_KEY)
    return reject('unsigned', `record ${k}: not a signed snapshot (version ${JSON.stringify(body.v)})`);
  const { kid, payload, sig } = body;
  if (typeof kid !== 'string' || typeof payload !== 'string' || typeof sig !== 'string') {
    return reject('malformed', 'snapshot without kid, payload and sig');
  }
  const verifier = verifiers.get(kid);
  if (!verifier) return reject('unknown_signer', `snapshot signed by ${kid.slice(0, 16)}, not a configured KEY_FEED_PUBLIC_KEY_FILE`);
  if (!verify(null, Buffer.from(payload, 'utf8'), verifier, Buffer.from(sig, 'base64'))) {
    return reject('bad_signature', `snapshot whose signature does not verify with ${kid}`);
  }
  let s: Record<string, unknown>;
  try {
    s = JSON.parse(payload) as Record<string, unknown>;
  } catch {
    return reject('malformed', 'signed payload is not JSON');
  }
  const generation = s.generation;
  const issuedAt = typeof s.issuedAt === 'string' ? Date.parse(s.issuedAt) : Number.NaN;
  if (typeof generation !== 'number' || !Number.isSafeInteger(generation) || generation < 0 || Number.isNaN(issuedAt)) {
    return reject('malformed', 'snapshot without a generation and the time it was issued');
  }
  if (issuedAt > now + skewMs) {
    return reject(
      'from_future',
      `snapshot ${generation} issued at ${new Date(issuedAt).toISOString()}, ahead of this clock by more than ${skewMs / 1000} s`,
    );
  }
  const keys = readKeys(s.keys);
  if (typeof keys === 'string') return reject('malformed', `snapshot ${generation}: ${keys}`);
  return { kind: 'snapshot', snapshot: { generation, issuedAt, keys } };
}
