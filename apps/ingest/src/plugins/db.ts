import fp from 'fastify-plugin';
import { createDb, type Knex } from '@playlog/db';
import type { IngestConfig } from '../config.js';

declare module 'fastify' {
  interface FastifyInstance {
    db: Knex;
  }
}

/** Postgres, used by ingest only to look up API keys (through the cache in auth.ts). */
export default fp(
  async (app, opts: { config: IngestConfig }) => {
    const db = createDb({
      url: opts.config.databaseUrl,
      poolMax: 4,
      applicationName: 'playlog-ingest',
      statementTimeoutMs: 5_000,
      acquireTimeoutMs: 2_000,
      logger: app.log,
    });
    app.decorate('db', db);
    app.addHook('onClose', async () => {
      await db.destroy();
    });
  },
  { name: 'db' },
);
