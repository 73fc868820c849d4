// Summarises a V8 .cpuprofile (node --cpu-prof): self time by function and by package/file, so a
// RESULTS.md can say where the time goes. Usage: node bench/lib/cpuprofile.mjs FILE.cpuprofile [TOP]
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { fileURLToPath } from 'node:url';

const sourceMaps = new Map();

/** The source map beside a file (FILE.js.map, as tsc and tools/build/bundle.mjs write them), or null. */
function sourceMapOf(url) {
  if (!sourceMaps.has(url)) {
    let map = null;
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')));
    } catch {
      // no map: the frame stays where it ran
    }
    sourceMaps.set(url, map);
  }
  return sourceMaps.get(url);
}

/**
 * A frame moved to the source it was built from, so code run from a bundle (the loader's dist/bundle) is
 * still owned by its package and named by its file and line.
 */
function original(cf) {
  if (!cf.url?.startsWith('file:')) return cf;
  const entry = sourceMapOf(cf.url)?.findEntry(cf.lineNumber, cf.columnNumber);
  if (!entry?.originalSource) return cf;
  return { ...cf, url: new URL(entry.originalSource, cf.url).href, lineNumber: entry.originalLine };
}

/** Where a frame's code lives: a package name, a workspace package, node internals or the runtime. */
function owner(url) {
  if (!url) return '(native / runtime)';
  if (url.startsWith('node:')) return 'node core';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1];
  const ws = /\/(apps|libs|tools)\/([^/]+)\//.exec(url);
  if (ws) return `@playlog/${ws[2]}`;
  return url.replace(/^file:\/\//, '');
}

export function summarize(file, top = 25) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const dt = prof.timeDeltas;
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    self.set(id, (self.get(id) ?? 0) + (dt[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map();
  const pkg = new Map();
  for (const [id, us] of self) {
    const cf = original(byId.get(id).callFrame);
    const name = cf.functionName || '(anonymous)';
    const where = cf.url ? `${owner(cf.url)}:${(cf.url.split('/').pop() ?? '').replace(/\?.*/, '')}:${cf.lineNumber + 1}` : '';
    const k = `${name} ${where}`.trim();
    fn.set(k, (fn.get(k) ?? 0) + us);
    const o = ['(idle)', '(program)', '(garbage collector)'].includes(name) ? name : owner(cf.url);
    pkg.set(o, (pkg.get(o) ?? 0) + us);
  }
  const sorted = (m) => [...m].sort((a, b) => b[1] - a[1]);
  const pct = (us) => ((100 * us) / total).toFixed(1);
  return {
    totalMs: total / 1000,
    byOwner: sorted(pkg).map(([k, us]) => ({ what: k, ms: us / 1000, pct: pct(us) })),
    byFunction: sorted(fn)
      .slice(0, top)
      .map(([k, us]) => ({ what: k, ms: us / 1000, pct: pct(us) })),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const s = summarize(process.argv[2], Number(process.argv[3] ?? 25));
  console.log(`total sampled: ${s.totalMs.toFixed(0)} ms\n\nself time by owner:`);
  for (const x of s.byOwner.slice(0, 20)) console.log(`  ${x.pct.padStart(5)}%  ${x.what}`);
  console.log('\nself time by function:');
  for (const x of s.byFunction) console.log(`  ${x.pct.padStart(5)}%  ${x.what}`);
}
