import {
  commandLine,
  ConfigError,
  databaseUrlAs,
  defaults,
  env,
  kafkaClientConfig,
  loadAll,
  loadConfig,
  secretFile,
  usageError,
  type KafkaClient,
} from '@playlog/config';
import type { KeyObject } from 'node:crypto';
import { createPool, keysRepository, readKeySnapshot, type Pool } from '@playlog/db';
import { DurableProducer } from '@playlog/kafka';
import { feedSigningKey, snapshotMessage } from '@playlog/schema';
import { pino } from 'pino';
import { Registry } from 'prom-client';

const USAGE = `usage:
  npm run keys -- create --client NAME [--name LABEL]   create a key; the key is the last line of output, shown once
  npm run keys -- list                                  list keys (never the keys themselves)
  npm run keys -- revoke ID                             revoke a key
  Keys live in Postgres (DATABASE_URL). A change is published at once to the key feed (KAFKA_KEYS_TOPIC on
  KAFKA_BROKERS), which ingest reads; the loader also republishes every KEY_SYNC_SECONDS. A key named
  "smoke" sends synthetic plays only (stored, never reported): use it for npm run smoke.`;

const configSpec = {
  databaseUrl: env.postgresUrl('DATABASE_URL', defaults.databaseUrl),
  keysTopic: env.string('KAFKA_KEYS_TOPIC', defaults.kafkaKeysTopic),
};

/**
 * Tells ingest about the change now instead of at the loader's next publication. Postgres is the
 * record: if Kafka cannot be reached in a few seconds, the change still stands and says so.
 */
async function publish(db: Pool, cfg: { kafka: KafkaClient; keysTopic: string; signingKey: KeyObject }): Promise<void> {
  const producer = new DurableProducer({
    cluster: cfg.kafka,
    clientId: 'playlog-keys-cli',
    log: pino({ level: 'silent' }),
    registry: new Registry(),
    deliveryTimeoutMs: 5_000,
  });
  try {
    await producer.connect(5_000);
    await producer.send(cfg.keysTopic, [snapshotMessage(await readKeySnapshot(db), cfg.signingKey)]);
    console.log(`published to the key feed (${cfg.keysTopic}): ingest knows within seconds`);
  } catch (err) {
    console.error(
      `keys: stored in Postgres, but not published to ${cfg.keysTopic} on ${cfg.kafka.brokers} (${(err as Error).message}); ` +
        'ingest learns of it when the loader next publishes the keys (KEY_SYNC_SECONDS)',
    );
  } finally {
    await producer.close(2_000);
  }
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = commandLine('keys', USAGE, argv, { client: { type: 'string' }, name: { type: 'string' } }, true);
  const [command, arg, extra] = positionals;
  if (!command) usageError('keys', USAGE, 'a command is required');
  if (extra !== undefined || (arg !== undefined && command !== 'revoke')) usageError('keys', USAGE, `unexpected argument ${extra ?? arg}`);
  if (!['create', 'list', 'revoke'].includes(command)) usageError('keys', USAGE, `unknown command ${command}`);
  if (command === 'create' && !values.client) usageError('keys', USAGE, 'create needs --client NAME');
  const id = Number(arg);
  if (command === 'revoke' && (!Number.isInteger(id) || id <= 0)) usageError('keys', USAGE, 'revoke needs a key ID (see keys list)');

  const [base, kafka, signingKey] = loadAll(
    () => loadConfig(configSpec),
    () => kafkaClientConfig('keys', process.env, { brokers: defaults.kafkaBrokers }),
    // Publishes signed snapshots of the keys, as the loader does (libs/schema key-feed).
    () => secretFile('KEY_FEED_SIGNING_KEY_FILE', 'key-feed.key', ([pem]) => feedSigningKey(pem!)),
  );
  const cfg = { ...base, kafka, signingKey };
  const db = createPool(databaseUrlAs('keys', cfg.databaseUrl), 1, 'playlog-keys');
  const keys = keysRepository(db);
  try {
    switch (command) {
      case 'create': {
        const name = values.name ?? 'default';
        const created = await keys.create(values.client!, name);
        await publish(db, cfg);
        console.log(`created key ${created.id} for client ${values.client} (${name}); store it now, it is not shown again:`);
        console.log(created.key);
        return 0;
      }
      case 'list': {
        const rows = await keys.list();
        console.log(['id', 'client', 'name', 'prefix', 'created_at', 'revoked_at'].join('\t'));
        for (const r of rows) {
          console.log([r.id, r.client, r.name, `${r.keyPrefix}…`, r.createdAt.toISOString(), r.revokedAt?.toISOString() ?? ''].join('\t'));
        }
        return 0;
      }
      default: {
        if (!(await keys.revoke(id))) {
          console.error(`keys: no active key with id ${id}`);
          return 1;
        }
        await publish(db, cfg);
        console.log(`revoked key ${id}`);
        return 0;
      }
    }
  } finally {
    await db.end();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : `keys: ${(err as Error).message}`);
    process.exit(1);
  },
);
