import fp from 'fastify-plugin';

/**
 * A summary line every `everySeconds`: plays accepted, rejected and failed since the last line, and
 * requests by status class, from the app's own counters. Request logging is off by default at this
 * volume, so this is what tells an operator reading the logs that the pod is working.
 */
export default fp(
  async (app, opts: { everySeconds: number }) => {
    if (opts.everySeconds <= 0) return;
    const requests = new Map<string, number>();
    app.addHook('onResponse', (_req, reply, done) => {
      const k = `${Math.floor(reply.statusCode / 100)}xx`;
      requests.set(k, (requests.get(k) ?? 0) + 1);
      done();
    });
    let last = new Map<string, number>();
    const timer = setInterval(() => {
      void app.metrics.plays.get().then((m) => {
        const now = new Map<string, number>();
        for (const v of m.values) now.set(String(v.labels.outcome), (now.get(String(v.labels.outcome)) ?? 0) + v.value);
        const before = last;
        const delta = (k: string) => (now.get(k) ?? 0) - (before.get(k) ?? 0);
        app.log.info(
          {
            seconds: opts.everySeconds,
            plays: { accepted: delta('accepted'), rejected: delta('rejected'), failed: delta('failed') },
            requests: Object.fromEntries(requests),
          },
          'summary',
        );
        last = now;
        requests.clear();
      });
    }, opts.everySeconds * 1000);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  },
  { name: 'summary', dependencies: ['metrics'] },
);
