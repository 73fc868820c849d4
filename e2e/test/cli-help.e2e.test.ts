import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { LOADER_ENTRY, run } from '@playlog/testing';

/**
 * Every command answers --help with its usage and exit 0, doing nothing else: no connection is tried
 * (the settings below point nowhere), no topic is read, no schema touched. An unknown flag is a usage
 * error, exit 2. (The loader once started on --help and re-read the topic under a new group.)
 */
const nowhere = { DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none', KAFKA_BROKERS: '127.0.0.1:1' };
const commands: [string, string[]][] = [
  ['ingest', ['apps/ingest/dist/main.js']],
  ['loader', [LOADER_ENTRY]],
  ['reporter', ['apps/reporter/dist/main.js']],
  ['keys', ['apps/ingest/dist/keys-cli.js']],
  ['migrate', ['libs/db/dist/migrate-cli.js']],
  ['loadgen', ['tools/loadgen/dist/main.js']],
  ['smoke', ['tools/smoke/dist/main.js']],
];

t.test('every command: --help prints usage and does no work; an unknown flag exits 2', async (t) => {
  for (const [name, args] of commands) {
    const started = Date.now();
    const help = await run('node', [...args, '--help'], nowhere);
    t.equal(help.code, 0, `${name} --help: exit 0`);
    t.match(help.stdout, /^usage:/, `${name} --help: usage on stdout`);
    t.equal(help.stderr, '', `${name} --help: nothing else said (no connection tried)`);
    t.ok(Date.now() - started < 20_000, `${name} --help: returns without waiting on anything (Node's start included)`);
    const bad = await run('node', [...args, '--no-such-flag'], nowhere);
    t.equal(bad.code, 2, `${name} --no-such-flag: exit 2`);
    t.match(bad.stderr, `${name}: Unknown option '--no-such-flag'`, `${name}: says which flag`);
    t.match(bad.stderr, '(--help prints the whole usage)', `${name}: says where the usage is`);
    t.ok(bad.stderr.trim().split('\n').length <= 3, `${name}: three lines, not the whole usage`);
  }
  const stack = await run('bash', ['tools/stack/stack.sh', '--help']);
  t.equal(stack.code, 0, 'stack --help: exit 0');
  t.match(stack.stdout, /^usage:/);
  t.equal((await run('bash', ['tools/stack/stack.sh', 'nope'])).code, 2, 'stack: an unknown command exits 2');
});

t.test('stack: a stack directory that does not exist yet (a fresh checkout) is answered, not a silent exit 1', async (t) => {
  // Reachable by the postgres OS user (mode 755), so the cluster would live in it, not under /var/lib.
  const parent = mkdtempSync(join(tmpdir(), 'playlog-stack-path-'));
  chmodSync(parent, 0o755);
  t.teardown(() => rmSync(parent, { recursive: true, force: true }));
  const env = {
    PLAYLOG_STACK_DIR: join(parent, 'stack'),
    PLAYLOG_KAFKA_PORT: '1',
    PLAYLOG_KAFKA_CONTROLLER_PORT: '2',
    PLAYLOG_PG_PORT: '3',
  };
  const printed = await run('bash', ['tools/stack/stack.sh', 'env'], env);
  t.equal(printed.code, 0, 'env: exit 0');
  t.match(printed.stdout, "export DATABASE_URL='postgres://127.0.0.1:3/playlog?sslmode=verify-full'");
  t.match(printed.stdout, `export PLAYLOG_CREDENTIALS_DIR=${join(parent, 'stack', 'pki')}`);
  const loader = await run('bash', ['tools/stack/stack.sh', 'env', '--as', 'loader'], env);
  t.match(loader.stdout, `export KAFKA_SSL_CERTIFICATE_LOCATION=${join(parent, 'stack', 'pki', 'loader.crt')}`, 'env --as: the principal');
  t.match(loader.stdout, "export DATABASE_URL='postgres://playlog_loader@127.0.0.1:3/playlog?sslmode=verify-full&");
  const unknown = await run('bash', ['tools/stack/stack.sh', 'env', '--as', 'mallory'], env);
  t.equal(unknown.code, 2, 'env --as an unknown app: a usage error');
  const status = await run('bash', ['tools/stack/stack.sh', 'status'], env);
  t.equal(status.code, 3, 'status: exit 3, nothing running');
  t.match(status.stdout + status.stderr, /postgres: not running \(port 3\)/);
});
