import type { Queryable } from './connection.js';
import { apiKeyHash, apiKeyPrefix, CLIENT_NAME, generateApiKey, unsafeText, type FeedKey } from '@playlog/schema';

/** API keys: random, shown once, stored only as a SHA-256 hash. */
export interface ApiKeyRow {
  id: number;
  client: string;
  name: string;
  keyPrefix: string;
  createdAt: Date;
  revokedAt: Date | null;
}

export function hashKey(key: string): Buffer {
  return Buffer.from(apiKeyHash(key), 'hex');
}

const FEED_SQL = 'select id, client, name, key_hash, revoked_at is not null as revoked from api_keys order by id';
type FeedRow = { id: number; client: string; name: string; key_hash: Buffer; revoked: boolean };

function feedKeys(result: { rows: FeedRow[] }): FeedKey[] {
  return result.rows.map((r) => ({
    hash: r.key_hash.toString('hex'),
    id: Number(r.id),
    client: r.client,
    name: r.name,
    revoked: r.revoked,
  }));
}

/** The key feed's snapshot (the loader publishes it; see libs/schema key-feed). */
export async function readKeyFeed(pool: Queryable): Promise<FeedKey[]> {
  return feedKeys(await pool.query<FeedRow>(FEED_SQL));
}

export function keysRepository(db: Queryable) {
  return {
    async create(client: string, name: string): Promise<{ id: number; key: string }> {
      if (!CLIENT_NAME.test(client)) {
        throw new Error('client must be 1-63 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit');
      }
      const problem = name.length === 0 || name.length > 64 ? 'must be 1 to 64 characters' : unsafeText(name);
      if (problem) throw new Error(`name ${problem}`);
      const key = generateApiKey();
      const r = await db.query<{ id: number }>(
        'insert into api_keys (client, name, key_hash, key_prefix) values ($1, $2, $3, $4) returning id',
        [client, name, hashKey(key), apiKeyPrefix(key)],
      );
      return { id: r.rows[0]!.id, key };
    },

    async list(): Promise<ApiKeyRow[]> {
      const r = await db.query<ApiKeyRow>(
        'select id, client, name, key_prefix as "keyPrefix", created_at as "createdAt", revoked_at as "revokedAt" from api_keys order by id',
      );
      return r.rows;
    },

    /** Every key's state as the key feed carries it (hash, never the key). */
    async feed(): Promise<FeedKey[]> {
      return readKeyFeed(db);
    },

    /** Returns false when no such key exists or it was already revoked. */
    async revoke(id: number): Promise<boolean> {
      const r = await db.query('update api_keys set revoked_at = now() where id = $1 and revoked_at is null', [id]);
      return (r.rowCount ?? 0) > 0;
    },
  };
}

export type KeysRepository = ReturnType<typeof keysRepository>;
