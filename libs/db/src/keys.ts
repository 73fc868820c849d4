import type { Knex } from 'knex';
import type pg from 'pg';
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

/** The key feed's snapshot, read through a pg pool (the loader publishes it; see libs/schema key-feed). */
export async function readKeyFeed(pool: Pick<pg.Pool, 'query'>): Promise<FeedKey[]> {
  return feedKeys(await pool.query<FeedRow>(FEED_SQL));
}

export function keysRepository(db: Knex) {
  return {
    async create(client: string, name: string): Promise<{ id: number; key: string }> {
      if (!CLIENT_NAME.test(client)) {
        throw new Error('client must be 1-63 characters of a-z, 0-9, ".", "_" or "-", starting with a letter or digit');
      }
      const problem = name.length === 0 || name.length > 64 ? 'must be 1 to 64 characters' : unsafeText(name);
      if (problem) throw new Error(`name ${problem}`);
      const key = generateApiKey();
      const [row] = await db('api_keys')
        .insert({ client, name, key_hash: hashKey(key), key_prefix: apiKeyPrefix(key) })
        .returning('id');
      return { id: (row as { id: number }).id, key };
    },

    async list(): Promise<ApiKeyRow[]> {
      const rows = await db('api_keys')
        .select('id', 'client', 'name', 'key_prefix as keyPrefix', 'created_at as createdAt', 'revoked_at as revokedAt')
        .orderBy('id');
      return rows as ApiKeyRow[];
    },

    /** Every key's state as the key feed carries it (hash, never the key). */
    async feed(): Promise<FeedKey[]> {
      return feedKeys((await db.raw(FEED_SQL)) as { rows: FeedRow[] });
    },

    /** Returns false when no such key exists or it was already revoked. */
    async revoke(id: number): Promise<boolean> {
      const n = await db('api_keys').where({ id }).whereNull('revoked_at').update({ revoked_at: db.fn.now() });
      return n > 0;
    },
  };
}

export type KeysRepository = ReturnType<typeof keysRepository>;
