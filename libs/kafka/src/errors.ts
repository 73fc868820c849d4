/** Errors the Kafka lib raises, with stable codes. Callers map them to 503s, retries or alerts. */
export class KafkaError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'KafkaError';
  }
}

/** The broker cannot take data now (down, unreachable, or did not confirm in time). Retry later. */
export const KAFKA_UNAVAILABLE = 'PLAYLOG_KAFKA_UNAVAILABLE';
/** The producer's local queue is full: this process is overloaded. Retry later. */
export const KAFKA_QUEUE_FULL = 'PLAYLOG_KAFKA_QUEUE_FULL';
/** A commit or offset query failed. */
export const KAFKA_OFFSETS = 'PLAYLOG_KAFKA_OFFSETS';
/** An admin operation (topic create/delete) failed. */
export const KAFKA_ADMIN = 'PLAYLOG_KAFKA_ADMIN';

export function unavailable(message: string, cause?: unknown): KafkaError {
  return new KafkaError(KAFKA_UNAVAILABLE, message, { cause });
}

/** The logging the Kafka lib needs; a pino logger or Fastify's request logger both fit. */
export interface KafkaLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/**
 * librdkafka reports a lost broker once per connection and per retry: dozens of lines a second in an
 * outage. This logs each distinct message at most once per `windowMs`, with how many were left out.
 */
export function throttledWarn(log: KafkaLogger, msg: string, windowMs = 30_000): (err: { message: string; code?: number }) => void {
  const seen = new Map<string, { at: number; suppressed: number }>();
  return (err) => {
    const now = Date.now();
    const s = seen.get(err.message);
    if (s && now - s.at < windowMs) {
      s.suppressed++;
      return;
    }
    // librdkafka's own reports: the stack would only show node-rdkafka's event plumbing.
    log.warn({ err: { message: err.message, code: err.code }, ...(s?.suppressed ? { suppressed: s.suppressed } : {}) }, msg);
    seen.set(err.message, { at: now, suppressed: 0 });
  };
}
