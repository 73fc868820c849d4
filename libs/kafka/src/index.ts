export {
  ensureTopic,
  deleteTopic,
  groupProgress,
  caughtUp,
  topicLeaders,
  topicRanges,
  type GroupProgress,
  type PartitionRange,
  type TopicSettings,
} from './admin.js';
export { BatchConsumer, type ConsumedMessage, type ConsumerOptions, type PartitionOffset } from './consumer.js';
export { KafkaError, type KafkaLogger, KAFKA_ADMIN, KAFKA_OFFSETS, KAFKA_QUEUE_FULL, KAFKA_UNAVAILABLE } from './errors.js';
export {
  COMPRESSIONS,
  compressionAvailable,
  PlayProducer,
  type Compression,
  type OutgoingMessage,
  type ProducerOptions,
  type ProducerState,
} from './producer.js';
export { TopicFollower, type FollowerOptions, type FollowerState } from './follower.js';
export { topicDurability, type TopicDurability } from './durability.js';
