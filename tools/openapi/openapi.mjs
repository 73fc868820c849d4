#!/usr/bin/env node
// The ingest API's OpenAPI document: built from the routes' own schemas (the app, not listening, with
// its default configuration), kept in docs/openapi.json, and linted by Redocly's rules.
//   node tools/openapi/openapi.mjs --write   regenerate docs/openapi.json (after changing a route)
//   node tools/openapi/openapi.mjs --check   fail if docs/openapi.json is not what the routes say, or if
//                                            Redocly's lint (tools/openapi/redocly.yaml) finds a problem
// Needs the built apps (npm run build); the lint tier runs --check.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createConfig, formatProblems, getTotals, lintFromString } from '@redocly/openapi-core';

const root = fileURLToPath(new URL('../../', import.meta.url));
const file = `${root}docs/openapi.json`;
const mode = process.argv[2];
if (mode !== '--write' && mode !== '--check') {
  console.error('usage: node tools/openapi/openapi.mjs --write | --check');
  process.exit(mode === '--help' || mode === '-h' ? 0 : 2);
}

const { buildApp } = await import(`${root}apps/ingest/dist/app.js`);
const { loadIngestConfig } = await import(`${root}apps/ingest/dist/config.js`);
// The documented limits are the defaults; no broker is needed to describe the routes (port 1: nothing to reach).
const app = await buildApp(loadIngestConfig({ KAFKA_BROKERS: '127.0.0.1:1', KAFKA_COMPRESSION: 'none' }));
await app.ready();
const text = JSON.stringify(app.swagger(), null, 2) + '\n';
await app.close();

if (mode === '--write') {
  writeFileSync(file, text);
  console.log(`openapi: wrote ${file}`);
}

let committed = '';
try {
  committed = readFileSync(file, 'utf8');
} catch {
  // reported below as out of date
}
const config = await createConfig(readFileSync(new URL('./redocly.yaml', import.meta.url), 'utf8'));
const problems = await lintFromString({ source: committed, absoluteRef: file, config });
const totals = getTotals(problems);
if (problems.length > 0) formatProblems(problems, { totals, format: 'stylish', color: false });
let failed = totals.errors > 0;
if (committed !== text) {
  console.error('openapi: docs/openapi.json is not what the routes describe; run: node tools/openapi/openapi.mjs --write');
  failed = true;
}
console.log(`openapi: ${totals.errors} errors, ${totals.warnings} warnings${failed ? '' : '; docs/openapi.json is current'}`);
process.exit(failed ? 1 : 0);
