import fp from 'fastify-plugin';
import { topicDurability } from '@playlog/kafka';
import type { IngestConfig } from '../config.js';

declare module 'fastify' {
  interface FastifyInstance {
    /** Why the plays topic cannot keep an acknowledged play through a broker's loss; undefined when it can (or not required). */
    durabilityProblem: () => string | undefined;
  }
}

/** What the production overlay requires of the plays topic (KAFKA_REQUIRE_REPLICATION=true). */
export const REQUIRED = { replicationFactor: 3, minInsyncReplicas: 2 } as const;

/**
 * With KAFKA_REQUIRE_REPLICATION=true, ingest is not ready unless the plays topic has replication
 * factor ≥ 3, min.insync.replicas ≥ 2 and unclean leader election off: only then does acks=all mean an
 * acknowledged play survives the loss of a broker. Checked at start (retried until Kafka answers) and
 * every minute; each change is logged once, saying what is wrong.
 */
export default fp(
  async (app, opts: { config: IngestConfig }) => {
    const cfg = opts.config;
    let problem: string | undefined = cfg.requireReplication ? 'not checked yet' : undefined;
    app.decorate('durabilityProblem', () => problem);
    if (!cfg.requireReplication) return;
    const log = app.log.child({ component: 'durability' });
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const check = async (): Promise<void> => {
      let next: string | undefined;
      let retryMs = 60_000;
      try {
        const d = await topicDurability(cfg.kafka, cfg.kafkaTopic);
        const wrong: string[] = [];
        if (d.replicationFactor < REQUIRED.replicationFactor)
          wrong.push(`replication factor ${d.replicationFactor} (needs ${REQUIRED.replicationFactor})`);
        if (d.minInsyncReplicas < REQUIRED.minInsyncReplicas)
          wrong.push(`min.insync.replicas ${d.minInsyncReplicas} (needs ${REQUIRED.minInsyncReplicas})`);
        if (d.uncleanLeaderElection) wrong.push('unclean.leader.election.enable=true (needs false)');
        next = wrong.length
          ? `KAFKA_REQUIRE_REPLICATION=true: topic ${cfg.kafkaTopic} has ${wrong.join(', ')}; an acknowledged play could be lost with one broker`
          : undefined;
      } catch (err) {
        next = `KAFKA_REQUIRE_REPLICATION=true: cannot read the replication of topic ${cfg.kafkaTopic} (${(err as Error).message})`;
        retryMs = 5_000;
      }
      if (next !== problem) {
        if (next) log.warn({ topic: cfg.kafkaTopic }, next);
        else log.info({ topic: cfg.kafkaTopic, ...REQUIRED }, 'plays topic replication meets KAFKA_REQUIRE_REPLICATION');
      }
      problem = next;
      if (!stopped) {
        timer = setTimeout(() => void check(), retryMs);
        timer.unref();
      }
    };
    void check();
    app.addHook('onClose', async () => {
      stopped = true;
      clearTimeout(timer);
    });
  },
  { name: 'durability' },
);
