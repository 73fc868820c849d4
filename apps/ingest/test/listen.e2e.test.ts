import t from 'tap';
import { freshDatabase, freshKeyFeed, freshTopic, run, stack, startApp } from '@playlog/testing';

/** The listening socket's backlog, as the kernel reports it (`ss`: Send-Q of a LISTEN socket). */
async function backlogOf(port: number): Promise<number> {
  const r = await run('ss', ['-ltnH', `sport = :${port}`]);
  const fields = r.stdout.trim().split(/\s+/);
  return Number(fields[2]);
}

t.test('ingest listens with LISTEN_BACKLOG (default 4096), not Node’s 511', async (t) => {
  const { db } = await freshDatabase(t);
  const topic = await freshTopic(t, 1);
  const feed = await freshKeyFeed(t, db);
  const env = { KAFKA_BROKERS: stack.brokers, KAFKA_TOPIC: topic, KAFKA_KEYS_TOPIC: feed.topic, LOG_LEVEL: 'warn' };
  const set = await startApp(t, 'ingest', { ...env, LISTEN_BACKLOG: '1234' });
  t.equal(await backlogOf(set.port), 1234, 'as configured');
  const dflt = await startApp(t, 'ingest', env);
  const somaxconn = Number((await run('cat', ['/proc/sys/net/core/somaxconn'])).stdout.trim());
  t.equal(await backlogOf(dflt.port), Math.min(4096, somaxconn), 'the default, as far as net.core.somaxconn allows');
});
