export type { KafkaCluster } from './cluster.js';
export { ensureTopic, deleteTopic, groupProgress, caughtUp, topicRanges } from './admin.js';
export { BatchConsumer, type ConsumedMessage, type PartitionOffset } from './consumer.js';
export { KafkaError, type KafkaLogger, KAFKA_QUEUE_FULL, KAFKA_UNAVAILABLE } from './errors.js';
export { COMPRESSIONS, compressionAvailable, DurableProducer, type OutgoingMessage } from './producer.js';
export { TopicFollower } from './follower.js';
export { topicDurability } from './durability.js';
/** @internal Exported for tests only. */
export { topicLeaders } from './admin.js';
