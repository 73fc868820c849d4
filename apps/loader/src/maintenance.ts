import { dropPartitionsBefore, ensurePartitions, type Pool } from '@playlog/db';
import type { KafkaLogger } from '@playlog/kafka';
import { periodic } from './periodic.js';

/**
 * Hourly upkeep of the plays table: partitions for yesterday through the next few days exist before
 * plays arrive, and partitions older than the retention are dropped. Failures are logged and retried
 * next time; the load loop creates a missing partition on demand anyway.
 */
export function partitionMaintenance(pool: Pool, retentionDays: number, log: KafkaLogger, everyMs = 3_600_000) {
  const day = (offset: number) => new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  async function run(): Promise<void> {
    try {
      await ensurePartitions(pool, day(-1), 5);
      if (retentionDays > 0) {
        const dropped = await dropPartitionsBefore(pool, day(-retentionDays));
        if (dropped.length > 0) log.info({ dropped }, 'dropped partitions past retention');
      }
    } catch (err) {
      log.warn({ err }, 'partition maintenance failed; will retry');
    }
  }
  return periodic(everyMs, run);
}
