import type { FastifyInstance, FastifyRequest } from 'fastify';
import { encodePlay, type Play, type PlayContext } from '@playlog/schema';
import { KafkaError, KAFKA_QUEUE_FULL } from '@playlog/kafka';
import type { IngestConfig } from './config.js';
import { Codes, HttpError } from './errors.js';

/** Header that marks a smoke-test play; honoured only for keys named `smoke` (see playContext). */
export const SYNTHETIC_HEADER = 'x-playlog-synthetic';

/**
 * Who sent the plays, from the API key (never from the body), and when. A play is synthetic (stored,
 * never reported) only when a key named `smoke` asks for it: an ordinary client cannot hide its
 * own plays from the labels' reports.
 */
export function playContext(req: FastifyRequest, cfg: IngestConfig): PlayContext {
  return {
    client: req.principal.client,
    apiKeyName: req.principal.name,
    now: Date.now(),
    clockSkewMs: cfg.clockSkewSeconds * 1000,
    synthetic: req.principal.name === 'smoke' && req.headers[SYNTHETIC_HEADER] === '1',
  };
}

/**
 * Writes plays to Kafka and resolves only when the broker has durably taken all of them. The play id is
 * the message key (so a play always lands on the same partition) and a header, for downstream dedupe.
 * If any message fails, the whole request fails with 503: nothing is reported accepted, and the
 * client's retry is deduplicated by play id.
 */
export async function publishPlays(app: FastifyInstance, cfg: IngestConfig, route: string, plays: Play[]): Promise<void> {
  const messages = plays.map((p) => ({ key: p.playId, value: encodePlay(p), headers: [{ 'play-id': p.playId }] }));
  try {
    await app.producer.send(cfg.kafkaTopic, messages);
  } catch (err) {
    app.metrics.plays.inc({ route, outcome: 'failed' }, plays.length);
    const retry = { 'Retry-After': String(cfg.retryAfterSeconds) };
    if (err instanceof KafkaError && err.code === KAFKA_QUEUE_FULL) {
      throw new HttpError(503, Codes.overloaded, 'server is overloaded; nothing was accepted, retry later', retry);
    }
    throw new HttpError(503, Codes.kafkaUnavailable, 'Kafka did not confirm the write; nothing was accepted, retry later', retry);
  }
  app.metrics.plays.inc({ route, outcome: 'accepted' }, plays.length);
}
