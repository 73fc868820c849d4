import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const child = fileURLToPath(new URL('./fixtures/shutdown-child.ts', import.meta.url));

/**
 * Runs the fixture in `mode`, sends the first of `signals` once it is ready and the next once stop is
 * called (two signals sent together may arrive as one); resolves with its exit code and log messages.
 */
function run(mode: string, signals: NodeJS.Signals[]): Promise<{ code: number | null; msgs: string[] }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [...process.execArgv, child, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8');
    p.stdout.on('data', (chunk: string) => {
      const before = out;
      out += chunk;
      for (const [i, cue] of ['"ready"', '"stop called"'].entries()) {
        if (signals[i] && !before.includes(cue) && out.includes(cue)) p.kill(signals[i]);
      }
    });
    p.on('error', reject);
    p.on('exit', (code) =>
      resolve({
        code,
        msgs: out
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { msg: string }).msg),
      }),
    );
  });
}

t.test('SIGTERM runs stop once and exits 0', async (t) => {
  const { code, msgs } = await run('ok', ['SIGTERM']);
  t.equal(code, 0);
  t.same(msgs, ['ready', 'shutting down', 'stop called', 'stopped']);
});

t.test('a stop that fails exits 1 and says why', async (t) => {
  const { code, msgs } = await run('fail', ['SIGINT']);
  t.equal(code, 1);
  t.same(msgs, ['ready', 'shutting down', 'stop called', 'shutdown failed']);
});

t.test('a stop past the grace period is cut short with exit 1', async (t) => {
  const { code, msgs } = await run('slow', ['SIGTERM']);
  t.equal(code, 1);
  t.same(msgs, ['ready', 'shutting down', 'stop called', 'shutdown took too long, exiting']);
});

t.test('a second signal exits at once', async (t) => {
  const { code, msgs } = await run('hang', ['SIGTERM', 'SIGTERM']);
  t.equal(code, 1);
  t.same(msgs.slice(0, 3), ['ready', 'shutting down', 'stop called']);
  t.ok(msgs.includes('second signal, exiting now'), msgs.join(' | '));
  t.notOk(msgs.includes('shutdown took too long, exiting'), 'not by the timeout');
});

t.test('an unhandled rejection stops the service the same way, and exits 1', async (t) => {
  const { code, msgs } = await run('throw', []);
  t.equal(code, 1);
  t.same(msgs, ['uncaught error, shutting down', 'stop called', 'stopped']);
});
