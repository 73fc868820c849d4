// Kafka ACLs from the one table that states them: docs/security.md, "Who may do what on Kafka". The local
// stacks apply it (tools/stack/lib.sh on `up`), the security tier tries every principal against it, and
// ops/check.sh compares the Kubernetes KafkaUsers with it, so the three cannot drift apart.
//
//   node tools/stack/acls.mjs apply --cluster single|edge|core --bootstrap HOST:PORT --pki DIR
//       makes the cluster's ACLs exactly the table's (adds what is missing, removes what it does not list)
//   node tools/stack/acls.mjs table --cluster single|edge|core [--local]
//       prints the cluster's bindings as JSON (--local: with the local stack's test-topic prefixes)
//   node tools/stack/acls.mjs kafkausers --cluster single|edge|core --kafka NAME
//       prints the cluster's Strimzi KafkaUsers (mutual TLS, authorization simple), one per principal: the
//       k8s/ files users.yaml are made with it
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DOC = fileURLToPath(new URL('../../docs/security.md', import.meta.url));

/** Kafka's wire codes (org.apache.kafka.common.acl / resource). */
export const OPERATIONS = {
  All: 2,
  Read: 3,
  Write: 4,
  Create: 5,
  Delete: 6,
  Alter: 7,
  Describe: 8,
  ClusterAction: 9,
  DescribeConfigs: 10,
  AlterConfigs: 11,
  IdempotentWrite: 12,
};
const RESOURCES = { topic: 2, group: 3, cluster: 4 };
const PATTERNS = { literal: 3, prefixed: 4 };
const ALLOW = 3;
/** Operations no app principal may hold (CONTRACT: "no app may delete records or topics or change configs"). */
const NEVER_FOR_APPS = ['All', 'Delete', 'Alter', 'AlterConfigs', 'ClusterAction'];
/** The principals that are Playlog's own apps (the others: mirrormaker, keda; admin and broker are super users). */
export const APPS = ['ingest', 'loader', 'reporter', 'keys'];
export const CLUSTERS = ['single', 'edge', 'core'];

/** Rows of the markdown table that follows `heading` in the doc, as arrays of trimmed cells. */
function tableAfter(text, heading) {
  const at = text.indexOf(heading);
  if (at < 0) throw new Error(`docs/security.md has no "${heading}"`);
  const lines = text.slice(at).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|'));
  const rows = [];
  for (const line of lines.slice(start)) {
    if (!line.startsWith('|')) break;
    rows.push(
      line
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim().replaceAll('`', '')),
    );
  }
  return rows.slice(2); // header and separator
}

/**
 * The table: names (what each role is called on each cluster) and grants (principal, site, resource,
 * name or role, pattern, operations). Throws on anything it does not understand, so a typo in the
 * doc fails the stack and the checks instead of granting something else.
 */
export function readTable(text = readFileSync(DOC, 'utf8')) {
  const names = new Map();
  for (const [role, single, edge, core] of tableAfter(text, '### Names on each cluster')) {
    names.set(role, { single, edge, core });
  }
  const grants = tableAfter(text, '### Who may do what on Kafka').map(([principal, site, resource, name, pattern, ops], i) => {
    const where = `docs/security.md, grant row ${i + 1}`;
    if (!['edge', 'core'].includes(site)) throw new Error(`${where}: site must be edge or core, not ${site}`);
    if (!(resource in RESOURCES)) throw new Error(`${where}: resource must be topic, group or cluster, not ${resource}`);
    if (!(pattern in PATTERNS)) throw new Error(`${where}: pattern must be literal or prefixed, not ${pattern}`);
    const operations = ops.split(',').map((o) => o.trim());
    for (const o of operations) {
      if (!(o in OPERATIONS)) throw new Error(`${where}: unknown operation ${o}`);
      if (APPS.includes(principal) && NEVER_FOR_APPS.includes(o)) throw new Error(`${where}: no app may hold ${o}`);
    }
    return { principal, site, resource, name, pattern, operations };
  });
  return { names, grants };
}

/**
 * The bindings of one cluster: `single` is both sites on one cluster (the two-site stack's MirrorMaker
 * rows do not apply there). A role is resolved to the cluster's name for it; a row whose role has no
 * name there (–) does not apply. `local` adds, for every literal topic or group, the same grant on the
 * prefix `<name>-t-`: the tests' fresh topics and groups (libs/testing) on the local stacks only.
 */
export function bindingsFor(cluster, { local = false, table = readTable() } = {}) {
  if (!CLUSTERS.includes(cluster)) throw new Error(`cluster must be one of ${CLUSTERS.join(', ')}`);
  const out = [];
  for (const g of table.grants) {
    if (cluster === 'single' ? g.principal === 'mirrormaker' : g.site !== cluster) continue;
    const role = table.names.get(g.name);
    const name = role ? role[cluster] : g.name;
    if (!name || name === '–' || name === '-') continue;
    const add = (resourceName, pattern) => {
      for (const operation of g.operations) {
        out.push({ principal: g.principal, resource: g.resource, name: resourceName, pattern, operation });
      }
    };
    add(name, g.pattern);
    if (local && g.pattern === 'literal' && g.resource !== 'cluster') add(`${name}-t-`, 'prefixed');
  }
  const seen = new Set();
  return out.filter((b) => {
    const k = JSON.stringify(b);
    return !seen.has(k) && seen.add(k);
  });
}

const wire = (b) => ({
  resourceType: RESOURCES[b.resource],
  resourceName: b.name,
  resourcePatternType: PATTERNS[b.pattern],
  principal: `User:${b.principal}`,
  host: '*',
  operation: OPERATIONS[b.operation],
  permissionType: ALLOW,
});
const key = (w) => [w.resourceType, w.resourceName, w.resourcePatternType, w.principal, w.host, w.operation, w.permissionType].join('|');

async function apply(cluster, bootstrap, pki) {
  const { Admin } = await import('@platformatic/kafka');
  const admin = new Admin({
    clientId: 'playlog-stack-acls',
    bootstrapBrokers: bootstrap.split(','),
    tls: {
      ca: readFileSync(`${pki}/ca.crt`),
      cert: readFileSync(`${pki}/admin.crt`),
      key: readFileSync(`${pki}/admin.key`),
    },
    timeout: 10_000,
    retries: 3,
  });
  try {
    const want = new Map(bindingsFor(cluster, { local: true }).map((b) => [key(wire(b)), wire(b)]));
    const present = await admin.describeAcls({ filter: { resourceType: 1, resourcePatternType: 1, operation: 1, permissionType: 1 } });
    const have = new Map();
    for (const r of present) {
      for (const a of r.acls) {
        const w = { resourceType: r.resourceType, resourceName: r.resourceName, resourcePatternType: r.resourcePatternType, ...a };
        have.set(key(w), w);
      }
    }
    const missing = [...want].filter(([k]) => !have.has(k)).map(([, w]) => w);
    const extra = [...have].filter(([k]) => !want.has(k)).map(([, w]) => w);
    if (missing.length > 0) await admin.createAcls({ creations: missing });
    if (extra.length > 0) {
      await admin.deleteAcls({
        filters: extra.map((w) => ({ ...w, resourcePatternType: w.resourcePatternType })),
      });
    }
    if (missing.length > 0 || extra.length > 0) {
      console.log(`stack: ACLs on ${bootstrap} (${cluster}): ${want.size} bindings, ${missing.length} added, ${extra.length} removed`);
    }
  } finally {
    await admin.close();
  }
}

/**
 * The Strimzi KafkaUsers of a cluster (the Kafka resource `kafka`), as YAML: one per principal of the
 * table, `authentication: tls`, its ACLs grouped by resource. Without the local test prefixes.
 */
export function kafkaUsersYaml(cluster, kafka) {
  const byUser = new Map();
  for (const b of bindingsFor(cluster)) {
    const resources = byUser.get(b.principal) ?? new Map();
    byUser.set(b.principal, resources);
    const k = `${b.resource}\u0000${b.name}\u0000${b.pattern}`;
    const r = resources.get(k) ?? { resource: b.resource, name: b.name, pattern: b.pattern, operations: [] };
    r.operations.push(b.operation);
    resources.set(k, r);
  }
  const docs = [...byUser].map(([user, resources]) => {
    const acls = [...resources.values()].map((r) => {
      const name = r.resource === 'cluster' ? '' : `, name: ${r.name}, patternType: ${r.pattern === 'prefixed' ? 'prefix' : 'literal'}`;
      return `      - resource: { type: ${r.resource}${name} }\n        operations: [${r.operations.join(', ')}]`;
    });
    return [
      'apiVersion: kafka.strimzi.io/v1',
      'kind: KafkaUser',
      'metadata:',
      `  name: ${user}`,
      `  labels: { strimzi.io/cluster: ${kafka} }`,
      'spec:',
      '  authentication: { type: tls }',
      '  authorization:',
      '    type: simple',
      '    acls:',
      ...acls,
    ].join('\n');
  });
  return [
    `# Generated from docs/security.md ("Who may do what on Kafka") by`,
    `#   node tools/stack/acls.mjs kafkausers --cluster ${cluster} --kafka ${kafka}`,
    `# Do not edit: change the table and run it again (ops/check.sh fails when this differs from the table).`,
    `# Each user's certificate and key are in the Secret of its name, made and renewed by Strimzi's User Operator.`,
    docs.join('\n---\n'),
    '',
  ].join('\n');
}

function arg(argv, name) {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [command, ...rest] = process.argv.slice(2);
  const cluster = arg(rest, 'cluster') ?? '';
  try {
    if (command === 'apply') await apply(cluster, arg(rest, 'bootstrap') ?? '', arg(rest, 'pki') ?? '');
    else if (command === 'table') console.log(JSON.stringify(bindingsFor(cluster, { local: rest.includes('--local') }), null, 2));
    else if (command === 'kafkausers') process.stdout.write(kafkaUsersYaml(cluster, arg(rest, 'kafka') ?? cluster));
    else {
      console.error(
        'usage: node tools/stack/acls.mjs apply --cluster C --bootstrap B --pki DIR | table --cluster C [--local] | kafkausers --cluster C --kafka NAME',
      );
      process.exit(2);
    }
  } catch (err) {
    console.error(`acls: ${err.message}`);
    process.exit(1);
  }
}
