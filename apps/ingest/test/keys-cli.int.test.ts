import t from 'tap';
import { freshDatabase, run } from '@playlog/testing';

const keys = (args: string[], url: string) => run('node', ['apps/ingest/dist/keys-cli.js', ...args], { DATABASE_URL: url });

t.test('keys create | list | revoke', async (t) => {
  const { url, db } = await freshDatabase(t);
  const created = await keys(['create', '--client', 'acme', '--name', 'android'], url);
  t.equal(created.code, 0, created.stderr);
  const key = created.stdout.trimEnd().split('\n').at(-1)!;
  t.match(key, /^plk_[A-Za-z0-9_-]{43}$/, 'the key is the last line');

  const list = await keys(['list'], url);
  t.equal(list.code, 0);
  t.match(list.stdout, /^1\tacme\tandroid\tplk_[\w-]{6}…\t/m, 'listed by prefix');
  t.notMatch(list.stdout, key, 'never the key itself');
  t.notMatch(JSON.stringify((await db.query('select * from api_keys')).rows), key, 'not stored in clear');

  t.equal((await keys(['revoke', '1'], url)).code, 0);
  t.equal((await keys(['revoke', '1'], url)).code, 1, 'already revoked');
  t.match((await keys(['list'], url)).stdout, /^1\tacme\tandroid\t.*\t\d{4}-\d\d-\d\dT.*Z$/m, 'shows when it was revoked');
  t.equal((await keys(['create'], url)).code, 2, 'create needs --client');
  const bad = await keys(['create', '--client', 'Not Valid'], url);
  t.equal(bad.code, 1);
  t.match(bad.stderr, 'client must be');
});
