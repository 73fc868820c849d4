/**
 * What the security tier tries from outside and from inside, as an attacker would: Kafka clients with
 * no certificate, plaintext, a certificate of another CA, or one principal's own credentials against
 * what that principal must not do; and PostgreSQL sessions likewise. Each attempt returns what it got,
 * so the tests can say it and docs/reliability.md can quote it.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import Kafka from 'node-rdkafka';
import pg from 'pg';
import { credentialsDir, type Principal } from '@playlog/config';

/** Who connects: a principal of the stack, a certificate of another CA, TLS without one, or plaintext. */
export type Caller = { principal: Principal | 'mirrormaker' } | { rogue: true } | { tlsOnly: true } | { plaintext: true };

export const pki = credentialsDir();

/** Clients that are no principal of the stack: every listener and the database must refuse each. */
export const OUTSIDERS: [string, Caller][] = [
  ['plaintext', { plaintext: true }],
  ['TLS without a client certificate', { tlsOnly: true }],
  ['a certificate for CN=admin from another CA', { rogue: true }],
];

/** One binding of docs/security.md's table (tools/stack/acls.mjs, the tool the stack applies it with). */
export interface Binding {
  principal: string;
  resource: 'topic' | 'group' | 'cluster';
  name: string;
  pattern: 'literal' | 'prefixed';
  operation: string;
}

/** The table's bindings for a cluster, as the stack's ACL tool reads them. */
export function tableFor(cluster: 'single' | 'edge' | 'core'): Binding[] {
  return JSON.parse(execFileSync('node', ['tools/stack/acls.mjs', 'table', '--cluster', cluster], { encoding: 'utf8' })) as Binding[];
}

/** Whether the table grants `principal` the operation `op` on `topic` on that cluster. */
export function grants(table: Binding[], principal: string, op: string, topic: string): boolean {
  return table.some(
    (b) =>
      b.principal === principal &&
      b.resource === 'topic' &&
      b.operation === op &&
      (b.pattern === 'literal' ? b.name === topic : topic.startsWith(b.name)),
  );
}

/** A CA that is not the stack's, and a certificate it signed for CN=admin (the stack's super user's name). */
export function rogueCertificate(): { ca: string; cert: string; key: string } {
  const dir = mkdtempSync(join(tmpdir(), 'playlog-rogue-'));
  const ossl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ossl(
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '1',
    '-subj',
    '/CN=rogue CA',
  );
  ossl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', 'admin.key');
  ossl('req', '-new', '-key', 'admin.key', '-subj', '/O=Playlog local stack/CN=admin', '-out', 'admin.csr');
  ossl('x509', '-req', '-in', 'admin.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '1', '-out', 'admin.crt');
  return { ca: join(dir, 'ca.crt'), cert: join(dir, 'admin.crt'), key: join(dir, 'admin.key') };
}

let rogue: ReturnType<typeof rogueCertificate> | undefined;

/** librdkafka's settings for `caller` (the stack's CA is trusted in every TLS case: the broker is real). */
function rdkafka(caller: Caller): Record<string, string> {
  if ('plaintext' in caller) return { 'security.protocol': 'plaintext' };
  const ca = { 'security.protocol': 'ssl', 'ssl.ca.location': `${pki}/ca.crt` };
  if ('tlsOnly' in caller) return ca;
  if ('rogue' in caller) {
    rogue ??= rogueCertificate();
    return { ...ca, 'ssl.certificate.location': rogue.cert, 'ssl.key.location': rogue.key };
  }
  return { ...ca, 'ssl.certificate.location': `${pki}/${caller.principal}.crt`, 'ssl.key.location': `${pki}/${caller.principal}.key` };
}

function platformatic(caller: Caller) {
  const s = rdkafka(caller);
  if (s['security.protocol'] === 'plaintext') return {};
  const read = (k: string) => (s[k] ? readFileSync(s[k]!) : undefined);
  return { tls: { ca: read('ssl.ca.location'), cert: read('ssl.certificate.location'), key: read('ssl.key.location') } };
}

/** An error's message with those it wraps (@platformatic/kafka nests the broker's answers). */
export function reasons(err: unknown): string {
  const seen: string[] = [];
  const walk = (e: unknown) => {
    if (!e || typeof e !== 'object') return;
    const m = (e as { message?: string }).message;
    if (m && !seen.includes(m)) seen.push(m);
    for (const inner of (e as { errors?: unknown[] }).errors ?? []) walk(inner);
    if ((e as { cause?: unknown }).cause) walk((e as { cause?: unknown }).cause);
  };
  walk(err);
  return seen.join(' / ');
}

export interface Attempt {
  allowed: boolean;
  /** What the attempt got: a short result, or the refusal. */
  got: string;
}

async function attempt(f: () => Promise<string>): Promise<Attempt> {
  try {
    return { allowed: true, got: await f() };
  } catch (err) {
    return { allowed: false, got: reasons(err) };
  }
}

function adminOf(bootstrap: string, caller: Caller) {
  return new Admin({
    clientId: 'playlog-attacker',
    bootstrapBrokers: bootstrap.split(','),
    ...platformatic(caller),
    retries: 0,
    timeout: 6_000,
  });
}

/** The cluster's metadata as `caller`: what any authenticated client may read; refused to anyone else. */
export function metadataAs(bootstrap: string, caller: Caller): Promise<Attempt> {
  return attempt(async () => {
    const admin = adminOf(bootstrap, caller);
    try {
      const m = await admin.metadata({ topics: [] });
      return `metadata of ${m.brokers.size} broker(s)`;
    } finally {
      await admin.close().catch(() => undefined);
    }
  });
}

/** An administrative operation as `caller`: delete a topic, delete its records, create one, change its config. */
export function adminAs(
  bootstrap: string,
  caller: Caller,
  op: 'deleteTopic' | 'deleteRecords' | 'createTopic' | 'alterConfig',
  topic: string,
): Promise<Attempt> {
  return attempt(async () => {
    const admin = adminOf(bootstrap, caller);
    try {
      if (op === 'deleteTopic') await admin.deleteTopics({ topics: [topic] });
      else if (op === 'deleteRecords') await admin.deleteRecords({ topics: [{ name: topic, partitions: [{ partition: 0, offset: 0n }] }] });
      else if (op === 'createTopic') await admin.createTopics({ topics: [topic], partitions: 1, replicas: 1 });
      else {
        await admin.incrementalAlterConfigs({
          resources: [{ resourceType: 2, resourceName: topic, configs: [{ name: 'retention.ms', value: '1000', configOperation: 0 }] }],
        });
      }
      return `${op} ${topic} done`;
    } finally {
      await admin.close().catch(() => undefined);
    }
  });
}

/** Produces `value` to `topic` (partition 0) as `caller`; allowed only if the broker confirms it (acks=all). */
export function produceAs(bootstrap: string, caller: Caller, topic: string, value: Buffer, key = 'attacker'): Promise<Attempt> {
  return attempt(
    () =>
      new Promise<string>((resolve, reject) => {
        const p = new Kafka.Producer(
          { ...rdkafka(caller), 'metadata.broker.list': bootstrap, 'client.id': 'playlog-attacker', dr_cb: true },
          { 'request.required.acks': -1, 'message.timeout.ms': 8_000 },
        );
        p.on('event.error', () => undefined);
        const done = (err: { message: string } | null, v?: string) => p.disconnect(() => (err ? reject(err) : resolve(v!)));
        p.on('delivery-report', (err, r) => done(err, `written at offset ${r?.offset}`));
        p.connect({ timeout: 8_000 }, (err) => {
          if (err) return reject(err);
          p.setPollInterval(20);
          try {
            p.produce(topic, 0, value, key);
          } catch (e) {
            done(e as Error);
          }
        });
      }),
  );
}

/**
 * Reads `topic` partition 0 from its beginning as `caller` (no group commits). Allowed when a message or
 * the partition's end arrives (an empty partition read through); refused when the broker says so, in
 * the consume call or as a client error; after 15 s without either, it says it got no answer.
 */
export function readAs(bootstrap: string, caller: Caller, topic: string, group: string): Promise<Attempt> {
  return attempt(async () => {
    // A topic the caller may not even Describe is refused in the metadata, before any fetch.
    const admin = adminOf(bootstrap, caller);
    try {
      await admin.metadata({ topics: [topic] });
    } finally {
      await admin.close().catch(() => undefined);
    }
    return consumeFirst(bootstrap, caller, topic, group);
  });
}

function consumeFirst(bootstrap: string, caller: Caller, topic: string, group: string): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const c = new Kafka.KafkaConsumer(
      {
        ...rdkafka(caller),
        'metadata.broker.list': bootstrap,
        'group.id': group,
        'enable.auto.commit': false,
        'enable.partition.eof': true,
      },
      { 'auto.offset.reset': 'earliest' },
    );
    let settled = false;
    const finish = (err: { message: string } | null, v?: string) => {
      if (settled) return;
      settled = true;
      c.disconnect(() => (err ? reject(err) : resolve(v!)));
    };
    c.on('event.error', (e) => {
      if (/authoriz/i.test(e.message)) finish(e);
    });
    c.on('partition.eof', () => finish(null, 'read to the end of the partition'));
    const deadline = Date.now() + 15_000;
    c.connect({ timeout: 8_000 }, (err) => {
      if (err) return reject(err);
      c.assign([{ topic, partition: 0, offset: -2 }]);
      const next = () =>
        c.consume(10, (e, messages) => {
          if (settled) return;
          if (e) return finish(e);
          if (messages.length > 0) return finish(null, `read ${messages.length} message(s)`);
          if (Date.now() > deadline) return finish(new Error('no answer within 15 s'));
          setTimeout(next, 100);
        });
      next();
    });
  });
}

/** A PostgreSQL session as `caller`; `sql` run in it. Allowed if it connects and the statement succeeds. */
export function sqlAs(port: number, database: string, caller: Caller, sql: string): Promise<Attempt> {
  return attempt(async () => {
    const s = rdkafka(caller);
    const user =
      'principal' in caller
        ? ({ admin: 'playlog', ingest: 'playlog_ingest' }[caller.principal as string] ?? `playlog_${caller.principal}`)
        : 'playlog';
    const ssl =
      s['security.protocol'] === 'plaintext'
        ? false
        : {
            ca: readFileSync(s['ssl.ca.location']!),
            ...(s['ssl.certificate.location']
              ? { cert: readFileSync(s['ssl.certificate.location']), key: readFileSync(s['ssl.key.location']!) }
              : {}),
          };
    const c = new pg.Client({ host: '127.0.0.1', port, database, user, password: 'playlog', ssl, connectionTimeoutMillis: 5_000 });
    c.on('error', () => undefined);
    await c.connect();
    try {
      const r = await c.query(sql);
      return `${r.command} ${r.rowCount ?? ''}`.trim();
    } finally {
      await c.end();
    }
  });
}
