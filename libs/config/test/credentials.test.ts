import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { credentialsDir } from '../src/index.js';

const checkout = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');

t.test("the local stack's credentials: the variables first, else this checkout's .stack/pki", async (t) => {
  t.equal(credentialsDir({ PLAYLOG_CREDENTIALS_DIR: ' /etc/playlog/pki ' }), '/etc/playlog/pki');
  t.equal(credentialsDir({ PLAYLOG_STACK_DIR: '/tmp/stack' }), '/tmp/stack/pki');
  t.equal(credentialsDir({}), `${checkout}/.stack/pki`);
});

t.test('the same checkout from the built lib and from the bundled loader, whose modules sit deeper', async (t) => {
  // Both as built by npm run build (tools/test.sh builds before the tiers).
  const printed = (module: string) =>
    execFileSync(
      process.execPath,
      ['--input-type=module', '-e', `import(${JSON.stringify(module)}).then((m) => console.log(m.credentialsDir({})))`],
      { encoding: 'utf8' },
    ).trim();
  t.equal(printed(`${checkout}/libs/config/dist/index.js`), `${checkout}/.stack/pki`);
  // The bundled loader, in a checkout of its own with no credentials made yet: its config error names the
  // files it looked for (its packages come from this checkout's node_modules).
  const other = mkdtempSync(join(tmpdir(), 'playlog-checkout-'));
  t.teardown(() => rmSync(other, { recursive: true, force: true }));
  writeFileSync(join(other, 'nx.json'), '{}');
  symlinkSync(join(checkout, 'node_modules'), join(other, 'node_modules'));
  mkdirSync(join(other, 'apps/loader/dist'), { recursive: true });
  cpSync(join(checkout, 'apps/loader/dist/bundle'), join(other, 'apps/loader/dist/bundle'), { recursive: true });
  let stderr = '';
  try {
    execFileSync(process.execPath, [join(other, 'apps/loader/dist/bundle/main.js')], { env: { PATH: process.env.PATH }, stdio: 'pipe' });
  } catch (err) {
    stderr = String((err as { stderr?: Buffer }).stderr);
  }
  t.match(stderr, `KAFKA_SSL_CA_LOCATION: no readable file at ${other}/.stack/pki/ca.crt`, 'the bundle looks in its checkout');
});
