import t from 'tap';
import { run } from '@playlog/testing';

/**
 * Every command answers --help with its usage and exit 0, doing nothing else: no connection is tried
 * (the settings below point nowhere), no topic is read, no schema touched. An unknown flag is a usage
 * error, exit 2. (The loader once started on --help and re-read the topic under a new group.)
 */
const nowhere = { DATABASE_URL: 'postgres://nobody:x@127.0.0.1:1/none', KAFKA_BROKERS: '127.0.0.1:1' };
const commands: [string, string[]][] = [
  ['ingest', ['apps/ingest/dist/main.js']],
  ['loader', ['apps/loader/dist/main.js']],
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
  }
  const stack = await run('bash', ['tools/stack/stack.sh', '--help']);
  t.equal(stack.code, 0, 'stack --help: exit 0');
  t.match(stack.stdout, /^usage:/);
  t.equal((await run('bash', ['tools/stack/stack.sh', 'nope'])).code, 2, 'stack: an unknown command exits 2');
});
