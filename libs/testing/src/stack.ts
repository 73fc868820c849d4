import { defaults, kafkaClientConfig, type Principal } from '@playlog/config';
import type { KafkaCluster } from '@playlog/kafka';

/**
 * `brokers` as `principal` (default admin, which may do everything: the tests' own topics, fixtures and
 * reads), with the local stack's credentials for it (libs/config credentials.ts).
 */
export function kafkaAs(brokers: string, principal: Principal = 'admin'): KafkaCluster {
  return kafkaClientConfig(principal, { PLAYLOG_CREDENTIALS_DIR: process.env.PLAYLOG_CREDENTIALS_DIR, KAFKA_BROKERS: brokers });
}

const brokers = process.env.KAFKA_BROKERS ?? defaults.kafkaBrokers;
/** The local stack the tests run on. */
export const stack = {
  /** Its bootstrap list (for an app's KAFKA_BROKERS: the app connects as its own principal). */
  brokers,
  /** Its Kafka as the admin principal (read when first used: the unit tier runs without a stack). */
  get kafka(): KafkaCluster {
    return kafkaAs(brokers);
  },
  /** Its database URL without a user: an app given it connects as its own role. */
  databaseUrl: process.env.DATABASE_URL ?? defaults.databaseUrl,
};
