import t from 'tap';
import { keysRepository } from '@playlog/db';
import { eventually, freshDatabase, freshTopic, stack, startApp, testName } from '@playlog/testing';

/**
 * The key feed end to end, through the loader alone (no keys CLI): a key written to Postgres reaches
 * ingest within KEY_SYNC_SECONDS, and so does its revocation. Ingest never sees the database.
 */
t.test('the loader publishes the keys: created and revoked in Postgres, honoured by ingest within KEY_SYNC_SECONDS', async (t) => {
  const { url, db } = await freshDatabase(t);
  const keys = keysRepository(db);
  const env = {
    KAFKA_BROKERS: stack.brokers,
    KAFKA_TOPIC: await freshTopic(t, 1),
    KAFKA_KEYS_TOPIC: await freshTopic(t, 1, 'keys'),
    LOG_LEVEL: 'warn',
  };
  await startApp(t, 'loader', { ...env, DATABASE_URL: url, KAFKA_GROUP_ID: testName('group'), KEY_SYNC_SECONDS: '1' });
  // Ingest has no DATABASE_URL to use: the feed is its only source.
  const { base } = await startApp(t, 'ingest', { ...env, DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none' });
  const status = async (key: string) => (await fetch(`${base}/v1/key`, { headers: { authorization: `Bearer ${key}` } })).status;

  const { id, key } = await keys.create('acme', 'android');
  const created = Date.now();
  await eventually(async () => (await status(key)) === 200, 30_000, 'the new key accepted');
  // KEY_SYNC_SECONDS=1: about a second, then a produce and a fetch; the bound leaves room for a busy machine.
  t.ok(Date.now() - created < 10_000, `accepted ${Date.now() - created} ms after it was written to Postgres (KEY_SYNC_SECONDS=1)`);

  await keys.revoke(id);
  const revoked = Date.now();
  await eventually(async () => (await status(key)) === 401, 30_000, 'the revoked key refused');
  t.ok(Date.now() - revoked < 10_000, `refused ${Date.now() - revoked} ms after the revocation`);
});
