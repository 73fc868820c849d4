import type { KafkaLogger } from '@playlog/kafka';
import type { LoaderMetrics } from './metrics.js';

/**
 * A summary line every `everySeconds`: plays inserted, duplicates skipped and dead letters since the
 * last line, batches committed, and the lag behind the topic, from the loader's own metrics.
 */
export function summaryLog(metrics: LoaderMetrics, log: KafkaLogger, everySeconds: number): () => void {
  if (everySeconds <= 0) return () => undefined;
  let last = new Map<string, number>();
  const timer = setInterval(() => {
    void Promise.all([metrics.rows.get(), metrics.batches.get(), metrics.lag.get()]).then(([rows, batches, lag]) => {
      const now = new Map<string, number>(rows.values.map((v) => [String(v.labels.outcome), v.value]));
      now.set('batches', batches.values[0]?.value ?? 0);
      const before = last;
      const delta = (k: string) => (now.get(k) ?? 0) - (before.get(k) ?? 0);
      last = now;
      log.info(
        {
          seconds: everySeconds,
          plays: { inserted: delta('inserted'), duplicate: delta('duplicate'), deadLettered: delta('dead_lettered') },
          batches: delta('batches'),
          lagMessages: lag.values.reduce((s, v) => s + v.value, 0),
        },
        'summary',
      );
    });
  }, everySeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
