// Fails if a package's own modules import each other in a circle (type-only imports count: they tie the
// modules' meaning together all the same). Run by the lint tier: node tools/lint/import-cycles.mjs
// Relative imports only: between packages, @nx/enforce-module-boundaries already forbids circles.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const IMPORT = /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/g;

function sources(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

const files = ['apps', 'libs', 'tools'].flatMap((top) =>
  readdirSync(join(root, top), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => {
      try {
        return sources(join(root, top, e.name, 'src'));
      } catch {
        return []; // no src folder (scripts only)
      }
    }),
);
const imports = new Map(
  files.map((f) => [
    f,
    [...readFileSync(f, 'utf8').matchAll(IMPORT)].map((m) => normalize(join(dirname(f), m[1])).replace(/\.js$/, '.ts')),
  ]),
);

const cycles = [];
const state = new Map(); // file -> 'open' while on the path, 'done' after
function visit(file, path) {
  state.set(file, 'open');
  for (const next of imports.get(file) ?? []) {
    if (!imports.has(next)) continue;
    if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next]);
    else if (!state.has(next)) visit(next, [...path, next]);
  }
  state.set(file, 'done');
}
for (const f of files) if (!state.has(f)) visit(f, [f]);

for (const c of cycles) console.error(`import cycle: ${c.map((f) => relative(root, f)).join(' → ')}`);
if (cycles.length > 0) process.exit(1);
console.log(`import cycles: none among ${files.length} modules`);
