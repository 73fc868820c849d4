import { hash, randomBytes } from 'node:crypto';

/**
 * API keys: `plk_` and 32 random bytes in base64url, shown once and stored (and sent in the key feed)
 * only as their SHA-256. Anything that is not of this form is refused before any lookup.
 */
const PREFIX = 'plk_';
export const API_KEY_FORMAT = /^plk_[A-Za-z0-9_-]{43}$/;

export function generateApiKey(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

/** The key's SHA-256, hex: what Postgres and the key feed hold instead of the key. */
export function apiKeyHash(key: string): string {
  return hash('sha256', key, 'hex');
}

/** The part of a key that `keys list` shows, enough to tell keys apart. */
export function apiKeyPrefix(key: string): string {
  return key.slice(0, PREFIX.length + 6);
}
