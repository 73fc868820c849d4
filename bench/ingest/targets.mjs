// What bench/ingest's scripts share: the same plays as request bodies, and a started ingest.
import { playGenerator } from '../../tools/loadgen/dist/plays.js';
import { freePort, runSync, stack, startProcess, waitHttp } from '../lib/common.mjs';

/** A new API key for `client` in the database at `databaseUrl`, made by the built keys CLI: the bearer token. */
export function createKey(databaseUrl, client = 'bench') {
  const out = runSync('node', ['apps/ingest/dist/keys-cli.js', 'create', '--client', client], { DATABASE_URL: databaseUrl });
  return out.trim().split('\n').pop();
}

/** The 1.2 subscription route, country and user in the query (the route bench/ingest measures). */
export const V12_PATH = '/1.2/user/subscription/log?country=GB&userId=u';

/**
 * `pool` plays from tools/loadgen (2 000 users, 5 000 tracks) as bulk bodies of `batch` plays and as
 * single-item 7digital bodies (the same plays; country and user move to the query, `playMode`
 * defaults to `online` for the catalogue plays).
 */
export function ingestBodies({ seed, day, pool, batch }) {
  const next = playGenerator({ seed, day, users: 2000, tracks: 5000 });
  const plays = Array.from({ length: pool }, () => next());
  const bulk = [];
  for (let i = 0; i < plays.length; i += batch) bulk.push(Buffer.from(JSON.stringify({ plays: plays.slice(i, i + batch) })));
  const v12 = plays.map((p) => {
    const item = { ...p, playMode: p.playMode ?? 'online' };
    for (const f of ['logType', 'userId', 'country', 'endReason', 'playId']) delete item[f];
    return Buffer.from(JSON.stringify({ playLogItem: [item] }));
  });
  return { bulk, v12 };
}

/**
 * The built ingest (or `main`, another build) on free ports against the bench's stack, `env` over
 * that; resolves once /readyz answers 200.
 */
export async function startIngest(env, { logFile, main = 'apps/ingest/dist/main.js', nodeArgs = [] } = {}) {
  const port = await freePort();
  const metricsPort = await freePort();
  const proc = startProcess('node', [...nodeArgs, main], {
    env: { PORT: String(port), METRICS_PORT: String(metricsPort), HOST: '127.0.0.1', KAFKA_BROKERS: stack.brokers, ...env },
    logFile,
  });
  await waitHttp(`http://127.0.0.1:${port}/readyz`, 30_000, proc);
  return { proc, base: `http://127.0.0.1:${port}`, metrics: `http://127.0.0.1:${metricsPort}/metrics` };
}
