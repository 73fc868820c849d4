import { platformaticConnection, type KafkaCluster } from './cluster.js';

/** What a topic promises about keeping an acknowledged record through a broker's loss. */
export interface TopicDurability {
  /** The smallest replica count among its partitions. */
  replicationFactor: number;
  /** How many replicas must have a record before acks=all acknowledges it. */
  minInsyncReplicas: number;
  /** Whether an out-of-sync replica may become leader (losing acknowledged records). */
  uncleanLeaderElection: boolean;
}

/**
 * Reads a topic's replication and the two settings that decide whether acks=all survives a broker's
 * loss. node-rdkafka has no DescribeConfigs, so this uses @platformatic/kafka's admin client (pure
 * JavaScript, kept by Platformatic) for it.
 */
export async function topicDurability(cluster: KafkaCluster, topic: string, timeoutMs = 5_000): Promise<TopicDurability> {
  // Loaded on first use: the module takes a few hundred ms to load, which every process that never asks
  // (the loader, the reporter, the tools) would otherwise pay at start-up.
  const { Admin } = await import('@platformatic/kafka');
  const admin = new Admin({ clientId: 'playlog-durability', ...platformaticConnection(cluster), timeout: timeoutMs, retries: 0 });
  try {
    const meta = await admin.metadata({ topics: [topic] });
    const t = meta.topics.get(topic);
    if (!t || t.partitions.length === 0) throw new Error(`topic ${topic} does not exist`);
    const [described] = await admin.describeConfigs({
      resources: [
        { resourceType: 2 /* TOPIC */, resourceName: topic, configurationKeys: ['min.insync.replicas', 'unclean.leader.election.enable'] },
      ],
    });
    const value = (name: string) => described?.configs.find((c) => c.name === name)?.value;
    return {
      replicationFactor: Math.min(...t.partitions.map((p) => p.replicas.length)),
      minInsyncReplicas: Number(value('min.insync.replicas') ?? 1),
      uncleanLeaderElection: value('unclean.leader.election.enable') === 'true',
    };
  } finally {
    await admin.close();
  }
}
