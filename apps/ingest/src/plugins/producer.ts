import fp from 'fastify-plugin';
import { DurableProducer } from '@playlog/kafka';
import type { IngestConfig } from '../config.js';
import { PlayBatcher } from '../publish.js';

declare module 'fastify' {
  interface FastifyInstance {
    producer: DurableProducer;
    /** Writes a request's plays to the topic (see PlayBatcher). */
    playWriter: PlayBatcher;
  }
}

/**
 * The Kafka producer: connects in the background (the app starts, not ready, while Kafka is
 * unreachable, and says so), flushed and closed when the app closes.
 */
export default fp(
  async (app, opts: { config: IngestConfig }) => {
    const producer = new DurableProducer({
      cluster: opts.config.kafka,
      clientId: 'playlog-ingest',
      log: app.log.child({ component: 'producer' }),
      registry: app.metrics.registry,
      deliveryTimeoutMs: opts.config.kafkaDeliveryTimeoutMs,
      maxInFlight: opts.config.kafkaMaxInFlight,
      lingerMs: opts.config.kafkaLingerMs,
      compression: opts.config.kafkaCompression,
      // Delivery reports are what requests wait for: polled often, they add ~1 ms at most.
      pollIntervalMs: 1,
    });
    producer.start();
    app.decorate('producer', producer);
    const topic = opts.config.kafkaTopic;
    app.decorate('playWriter', new PlayBatcher((messages) => producer.send(topic, messages), opts.config.kafkaPlaysPerMessage));
    app.addHook('onClose', async () => {
      await producer.close();
    });
  },
  { name: 'producer', dependencies: ['metrics'] },
);
