import { parseArgs } from 'node:util';
import { ConfigError, defaults, env, loadConfig } from '@playlog/config';
import { createDb, keysRepository } from '@playlog/db';

const USAGE = `usage:
  npm run keys -- create --client NAME [--name LABEL]   create a key; the key is the last line of output, shown once
  npm run keys -- list                                  list keys (never the keys themselves)
  npm run keys -- revoke ID                             revoke a key (takes effect within KEY_CACHE_SECONDS)`;

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { client: { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, arg] = positionals;
  if (values.help || !command) {
    console.log(USAGE);
    return command || values.help ? 0 : 2;
  }
  const cfg = loadConfig({ databaseUrl: env.postgresUrl('DATABASE_URL', defaults.databaseUrl) });
  const db = createDb({ url: cfg.databaseUrl, poolMax: 1, applicationName: 'playlog-keys' });
  const keys = keysRepository(db);
  try {
    switch (command) {
      case 'create': {
        if (!values.client) {
          console.error('keys: create needs --client NAME');
          return 2;
        }
        const name = values.name ?? 'default';
        const { id, key } = await keys.create(values.client, name);
        console.log(`created key ${id} for client ${values.client} (${name}); store it now, it is not shown again:`);
        console.log(key);
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
      case 'revoke': {
        const id = Number(arg);
        if (!Number.isInteger(id) || id <= 0) {
          console.error('keys: revoke needs a key ID (see keys list)');
          return 2;
        }
        if (!(await keys.revoke(id))) {
          console.error(`keys: no active key with id ${id}`);
          return 1;
        }
        console.log(`revoked key ${id}`);
        return 0;
      }
      default:
        console.error(`keys: unknown command ${command}\n${USAGE}`);
        return 2;
    }
  } finally {
    await db.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof ConfigError ? err.message : `keys: ${(err as Error).message}`);
    process.exit(1);
  },
);
