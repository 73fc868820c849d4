// Checks deployment environments against the apps' own config loaders (the built dist/ of
// apps/*/src/config.ts): every variable an app reads is set (with --require-all), and every value
// passes the app's validation, exactly as at boot.
// usage: node ops/lib/app-env.mjs [--require-all] [--apps APP,…] LABEL ENVS.json
//   ENVS.json: {"ingest": {VAR: value}, ...}. --apps: the apps the deployment runs (default all four:
//   ingest, loader, reporter, migrate); each must have an environment, and only those are checked
//   (a production site runs some of them: k8s/overlays/production/edge only ingest).
// Prints PASS/FAIL lines; exits 1 on any failure.
import { readFileSync } from 'node:fs';

const root = new URL('../../', import.meta.url);
const load = (p) => import(new URL(p, root).href);

const args = process.argv.slice(2);
let requireAll = false;
let only;
while (args[0]?.startsWith('--')) {
  const opt = args.shift();
  if (opt === '--require-all') requireAll = true;
  else if (opt === '--apps') only = (args.shift() ?? '').split(',').filter(Boolean);
  else {
    console.error(`app-env: unknown option ${opt}`);
    process.exit(2);
  }
}
const [label, file] = args;
const envs = JSON.parse(readFileSync(file, 'utf8'));

const { env, loadConfig } = await load('libs/config/dist/index.js');
const apps = {
  ingest: await load('apps/ingest/dist/config.js').then((m) => [m.ingestConfigSpec, m.loadIngestConfig]),
  loader: await load('apps/loader/dist/config.js').then((m) => [m.loaderConfigSpec, m.loadLoaderConfig]),
  reporter: await load('apps/reporter/dist/config.js').then((m) => [m.reporterConfigSpec, m.loadReporterConfig]),
  // libs/db/src/migrate-cli.ts reads only this.
  migrate: ((spec) => [spec, (source) => loadConfig(spec, source)])({ databaseUrl: env.postgresUrl('DATABASE_URL', 'postgres://x@y/z') }),
};

const unknown = (only ?? []).filter((app) => !(app in apps));
if (unknown.length || only?.length === 0) {
  console.error(`app-env: --apps takes a comma-separated list of ${Object.keys(apps).join(', ')}; got ${only.join(',') || 'none'}`);
  process.exit(2);
}

let failed = 0;
for (const [app, [spec, loadFn]] of Object.entries(apps).filter(([app]) => !only || only.includes(app))) {
  const given = envs[app];
  const problems = [];
  if (!given) problems.push('no environment found for this app');
  else {
    const variables = Object.values(spec).map((r) => r.variable);
    if (requireAll) {
      const missing = variables.filter((v) => !(v in given));
      if (missing.length) problems.push(`not wired: ${missing.join(', ')}`);
    }
    try {
      loadFn({ ...given });
    } catch (err) {
      problems.push(String(err.message).replace(/\n\s*/g, '; '));
    }
  }
  const what = requireAll ? 'sets every variable the app reads, with values' : 'values';
  console.log(`${problems.length ? 'FAIL' : 'PASS'} ${label}: ${app} ${what} its config loader accepts`);
  for (const p of problems) console.log(`    - ${p}`);
  failed += problems.length ? 1 : 0;
}
process.exit(failed ? 1 : 0);
