// Bundles the loader for start-up (run by `npm run build` after tsc): apps/loader/dist/bundle/.
//
// Why: a process loads typebox as ~1 400 ES modules, and the loader does it twice (its main thread and its
// decode worker). Node's ES module loader pays per file (resolve, stat, read, link), so the loader spent
// ~0.6 s of its main thread and ~0.4 s of its worker on module loading before it stored a play
// (bench/loader/RESULTS.md). Bundled, the same modules load in a fraction of that. esbuild (a kept,
// dependency-free bundler) links the JavaScript tsc already checked and emitted; it does no type checking.
//
// What goes in: the app's own modules, the workspace libs (@playlog/*) and typebox. What stays outside,
// loaded from node_modules as before: every other package (node-rdkafka is a native addon, knex requires
// its dialects at run time, and the rest are CommonJS that loads in few files).
//
//   node tools/build/bundle.mjs    (npm run build runs it after tsc -b; run it again after a bare tsc -b)
import { rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Per app: its entry points, as tsc emits them into dist/ (the bundle keeps their names). */
const APPS = {
  loader: ['main', 'decode-worker'],
};

const inline = (specifier) =>
  specifier.startsWith('.') ||
  specifier.startsWith('/') ||
  specifier.startsWith('@playlog/') ||
  specifier === 'typebox' ||
  specifier.startsWith('typebox/');

async function bundle(app, entries) {
  const dist = join(root, 'apps', app, 'dist');
  const outdir = join(dist, 'bundle');
  rmSync(outdir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: Object.fromEntries(entries.map((e) => [e, join(dist, `${e}.js`)])),
    outdir,
    bundle: true,
    // Shared modules go to chunks beside the entries, so a worker's relative URL (decoder.ts) finds its entry.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    metafile: true,
    logLevel: 'warning',
    plugins: [
      {
        name: 'playlog-externals',
        setup(b) {
          b.onResolve({ filter: /.*/ }, (args) =>
            args.kind === 'entry-point' || inline(args.path) ? undefined : { path: args.path, external: true },
          );
        },
      },
    ],
  });
  const inputs = Object.keys(result.metafile.inputs).length;
  const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  console.log(`bundle: ${app}: ${inputs} modules → ${relative(root, outdir)} (${(bytes / 1024).toFixed(0)} KiB)`);
}

for (const [app, entries] of Object.entries(APPS)) await bundle(app, entries);
