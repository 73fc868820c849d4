import t, { type Test } from 'tap';
import { commandLine } from '../src/index.js';

class Exit extends Error {
  constructor(readonly code: number | undefined) {
    super(`exit ${code}`);
  }
}

const USAGE = 'usage: tool --name N [--dry-run]';
const OPTIONS = { name: { type: 'string' }, 'dry-run': { type: 'boolean', default: false } } as const;

/** Runs commandLine with process.exit and the console captured. */
function run(t: Test, argv: string[], positionals = false) {
  t.capture(process, 'exit', (code?: number) => {
    throw new Exit(code);
  });
  const out = t.capture(console, 'log', () => undefined);
  const err = t.capture(console, 'error', () => undefined);
  try {
    const parsed = commandLine('tool', USAGE, argv, OPTIONS, positionals);
    return { parsed, exit: undefined, out: out().flatMap((c) => c.args), err: err().flatMap((c) => c.args) };
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
    return { parsed: undefined, exit: e.code, out: out().flatMap((c) => c.args), err: err().flatMap((c) => c.args) };
  }
}

t.test('options are parsed; defaults apply', async (t) => {
  const r = run(t, ['--name', 'x']);
  t.same(r.parsed, { values: { name: 'x', 'dry-run': false }, positionals: [] });
  t.equal(r.exit, undefined);
});

t.test('--help and -h print the usage and exit 0 before anything else', async (t) => {
  for (const flag of ['--help', '-h']) {
    const r = run(t, ['--name', 'x', flag]);
    t.equal(r.exit, 0, flag);
    t.same(r.out, [USAGE]);
    t.same(r.err, []);
  }
});

t.test('an unknown flag, a missing value or a stray argument exits 2 with what is wrong and the usage', async (t) => {
  for (const argv of [['--nope'], ['--name'], ['stray']]) {
    const r = run(t, argv);
    t.equal(r.exit, 2, argv.join(' '));
    t.match(String(r.err[0]), /^tool: .+\nusage: tool --name N/, argv.join(' '));
  }
  t.same(run(t, ['stray'], true).parsed?.positionals, ['stray'], 'unless the program takes positionals');
});

t.test('a usage error shows the usage’s first line and where the rest is, not the whole text', async (t) => {
  t.capture(process, 'exit', (code?: number) => {
    throw new Exit(code);
  });
  const err = t.capture(console, 'error', () => undefined);
  const long = 'usage: tool --name N\n  Does things.\n  Exit 0 when they are done.';
  t.throws(() => commandLine('tool', long, ['--nope'], OPTIONS), new Exit(2));
  const said = String(err()[0]!.args[0]);
  t.match(said, /^tool: Unknown option '--nope'.*\nusage: tool --name N …\n\(--help prints the whole usage\)$/s);
  t.notMatch(said, 'Does things', 'the rest of the usage is left to --help');
});
