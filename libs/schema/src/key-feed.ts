import { CLIENT_NAME, unsafeText } from './text.js';

/**
 * The API-key feed: how ingest knows the keys without reaching Postgres. The core (the loader, and the
 * keys CLI when it changes a key) writes every key's current state to a compacted topic, then a
 * heartbeat; ingest reads the topic from its beginning and keeps following it (in two sites, through
 * MirrorMaker from the core to the edge). Records carry the SHA-256 of a key, never the key.
 *
 * - key `key:<sha256 hex>`, value `{"v":1,"id":7,"client":"acme","name":"main","revoked":false}`
 * - key `heartbeat`, value `{"v":1,"heartbeat":"<ISO time>","keys":N}`: the state above was read from
 *   Postgres at that time. Ingest trusts its keys only for a bounded time after the last heartbeat.
 */
export interface FeedKey {
  /** SHA-256 of the API key, hex. */
  hash: string;
  id: number;
  client: string;
  name: string;
  revoked: boolean;
}

export type FeedRecord =
  ({ kind: 'key' } & FeedKey) | { kind: 'heartbeat'; at: number; keys: number } | { kind: 'invalid'; reason: string };

export interface FeedMessage {
  key: string;
  value: Buffer;
}

const HASH = /^[0-9a-f]{64}$/;

/** The feed's messages for a full snapshot of the keys: one per key, then the heartbeat. */
export function keyFeedMessages(keys: FeedKey[], at = new Date()): FeedMessage[] {
  const out: FeedMessage[] = keys.map((k) => ({
    key: `key:${k.hash}`,
    value: Buffer.from(JSON.stringify({ v: 1, id: k.id, client: k.client, name: k.name, revoked: k.revoked })),
  }));
  out.push({ key: 'heartbeat', value: Buffer.from(JSON.stringify({ v: 1, heartbeat: at.toISOString(), keys: keys.length })) });
  return out;
}

/** Reads one feed record; anything malformed (or a client that is not a name) is `invalid`, with why. */
export function decodeFeedRecord(key: Buffer | string | null | undefined, value: Buffer | null | undefined): FeedRecord {
  const k = key?.toString() ?? '';
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(value?.toString() ?? '') as Record<string, unknown>;
  } catch {
    return { kind: 'invalid', reason: `record ${k}: value is not JSON` };
  }
  if (typeof body !== 'object' || body === null || body.v !== 1) return { kind: 'invalid', reason: `record ${k}: not a version-1 record` };
  if (k === 'heartbeat') {
    const at = typeof body.heartbeat === 'string' ? Date.parse(body.heartbeat) : Number.NaN;
    if (Number.isNaN(at)) return { kind: 'invalid', reason: 'heartbeat without a time' };
    return { kind: 'heartbeat', at, keys: typeof body.keys === 'number' ? body.keys : 0 };
  }
  const hash = k.startsWith('key:') ? k.slice(4) : '';
  if (!HASH.test(hash)) return { kind: 'invalid', reason: `record ${k}: not a key record` };
  const { id, client, name, revoked } = body;
  if (typeof id !== 'number' || typeof client !== 'string' || !CLIENT_NAME.test(client)) {
    return { kind: 'invalid', reason: `record ${k}: id and a valid client name are required` };
  }
  if (typeof name !== 'string' || unsafeText(name) || typeof revoked !== 'boolean') {
    return { kind: 'invalid', reason: `record ${k}: name and revoked are required` };
  }
  return { kind: 'key', hash, id, client, name, revoked };
}
