import { createHash } from 'node:crypto';

/**
 * The table holding one report version's aggregates under daily_usage (migration 005): the day, the
 * version and a hash of the client (a client name can be 63 characters, a table name no longer).
 */
export function dailyUsageLeaf(client: string, day: string, version: number): string {
  const h = createHash('sha256').update(client).digest('hex').slice(0, 12);
  return `daily_usage_${day.replaceAll('-', '')}_v${version}_${h}`;
}
