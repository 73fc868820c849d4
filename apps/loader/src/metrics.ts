import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client';

export function loaderMetrics(registry: Registry) {
  collectDefaultMetrics({ register: registry });
  const m = {
    rows: new Counter({
      name: 'playlog_loader_rows_total',
      help: 'Plays handled by the loader, by outcome (inserted, duplicate, dead_lettered)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    batches: new Counter({ name: 'playlog_loader_batches_total', help: 'Batches committed', registers: [registry] }),
    batchSize: new Histogram({
      name: 'playlog_loader_batch_size',
      help: 'Plays per batch',
      buckets: [1, 10, 100, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000],
      registers: [registry],
    }),
    writeSeconds: new Histogram({
      name: 'playlog_loader_write_duration_seconds',
      help: 'Time to write one batch to Postgres (COPY + insert + commit)',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    dlq: new Counter({
      name: 'playlog_loader_dead_letters_total',
      help: 'Messages and plays sent to the dead-letter topic',
      labelNames: ['reason'],
      registers: [registry],
    }),
    dbErrors: new Counter({
      name: 'playlog_loader_db_errors_total',
      help: 'Failed database steps: batch writes and gate marks (retried)',
      registers: [registry],
    }),
    deadLetterErrors: new Counter({
      name: 'playlog_loader_dead_letter_errors_total',
      help: 'Failed writes to the dead-letter topic, a Kafka failure (retried)',
      registers: [registry],
    }),
    decodeSeconds: new Counter({
      name: 'playlog_loader_decode_seconds_total',
      help: 'Time spent decoding and checking messages into plays and rendering their COPY rows (CPU, on the decode worker or inline)',
      registers: [registry],
    }),
    decodeThreads: new Gauge({
      name: 'playlog_loader_decode_threads',
      help: "Decode worker threads running; 0: decoding on the loop's thread (LOADER_DECODE_WORKERS=0, or every worker failed)",
      registers: [registry],
    }),
    slotWaitSeconds: new Counter({
      name: 'playlog_loader_write_slot_wait_seconds_total',
      help: 'Time a decoded batch waited for a write slot, every one busy: the loader waiting for Postgres',
      registers: [registry],
    }),
    writesIdleSeconds: new Counter({
      name: 'playlog_loader_writes_idle_seconds_total',
      help: 'Time with no batch write in flight: Postgres waiting for the loader (or nothing to load)',
      registers: [registry],
    }),
    throttleSeconds: new Counter({
      name: 'playlog_loader_throttle_seconds_total',
      help: 'Time spent waiting to protect the database (rate ceiling, slow writes)',
      registers: [registry],
    }),
    lag: new Gauge({
      name: 'playlog_loader_consumer_lag_messages',
      help: 'Messages on the topic not yet read, per partition',
      labelNames: ['partition'],
      registers: [registry],
    }),
    paused: new Gauge({
      name: 'playlog_loader_paused',
      help: '1 while the loader is backing off (database down or slow, or the dead-letter topic refusing writes)',
      registers: [registry],
    }),
    unreportedDays: new Gauge({
      name: 'playlog_report_unreported_days',
      help: 'Closed client-days (REPORT_TIMEZONE) with reportable plays and no final report version',
      registers: [registry],
    }),
    oldestUnreportedDay: new Gauge({
      name: 'playlog_report_oldest_unreported_day_seconds',
      help: 'Seconds since the oldest closed client-day with plays and no final report closed (0: none)',
      registers: [registry],
    }),
    reportDaysCaughtUp: new Gauge({
      name: 'playlog_report_days_caught_up',
      help: 'Report days whose first version was issued after the night that followed them (a missed night, or plays that came late)',
      registers: [registry],
    }),
    reportVersions: new Gauge({
      name: 'playlog_report_versions',
      help: 'Report versions issued, by status (from report_versions)',
      labelNames: ['status'],
      registers: [registry],
    }),
    lastKeySync: new Gauge({
      name: 'playlog_loader_key_feed_published_timestamp_seconds',
      help: 'When the API keys were last published to the key feed',
      registers: [registry],
    }),
    gateMarkersRejected: new Counter({
      name: 'playlog_loader_gate_markers_rejected_total',
      help: 'Gate markers not recorded because their MAC does not verify for their partition (not written by the reporter)',
      registers: [registry],
    }),
    lastTick: new Gauge({
      name: 'playlog_loader_last_tick_timestamp_seconds',
      help: 'When the loop last completed a cycle',
      registers: [registry],
    }),
  };
  // Known label values start at 0, so the first dead letter or duplicate shows up in increase().
  for (const outcome of ['inserted', 'duplicate', 'dead_lettered']) m.rows.inc({ outcome }, 0);
  for (const reason of ['unparsable', 'invalid', 'unstorable']) m.dlq.inc({ reason }, 0);
  return m;
}

export type LoaderMetrics = ReturnType<typeof loaderMetrics>;
