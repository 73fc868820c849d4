import { generateKeyPairSync, randomBytes } from 'node:crypto';
import t, { type Test } from 'tap';
import { apiKeyHash, generateApiKey, snapshotMessage } from '@playlog/schema';
import { readKeySnapshot } from '@playlog/db';
import {
  eventually,
  freshCoreKeyFeed,
  freshDatabase,
  freshEdgeTopic,
  readToEnd,
  startProcess,
  testProducer,
  twoSite,
} from '@playlog/testing';
import { adminAs, grants as granted, metadataAs, OUTSIDERS, produceAs, readAs, tableFor, type Attempt, type Caller } from './attacker.js';
import { edgeIngestEnv } from './oracle.js';

/**
 * The security tier on the two-site stack (docs/security.md; results in docs/reliability.md): every
 * listener of both sites, the controllers' included, refuses clients without the stack's certificates;
 * each principal is refused at each site what the table does not grant it there; and key-feed records the
 * core did not issue, or older than what the edge holds, change nothing at the edge, whether written into
 * the edge's mirror or replayed into the core's feed for MirrorMaker to carry.
 */
const EDGE = twoSite.edgeBrokers.split(',');
const CORE = twoSite.coreBrokers;
const LISTENERS = [...EDGE, CORE, '127.0.0.1:29191', '127.0.0.1:29192', '127.0.0.1:29193', '127.0.0.1:49093'];
const say = (t: Test, what: string, a: Attempt) => t.comment(`${what}: ${a.allowed ? 'allowed' : 'refused'} (${a.got.slice(0, 160)})`);

t.test('every listener of both sites refuses plaintext, TLS without a certificate, and a certificate of another CA', async (t) => {
  t.ok((await metadataAs(twoSite.edgeBrokers, { principal: 'admin' })).allowed, 'the edge answers the admin certificate');
  t.ok((await metadataAs(CORE, { principal: 'admin' })).allowed, 'the core answers it');
  for (const listener of LISTENERS) {
    for (const [what, caller] of OUTSIDERS) {
      const a = await metadataAs(listener, caller);
      say(t, `${listener}, ${what}`, a);
      t.notOk(a.allowed, `${listener}: ${what} refused`);
    }
  }
});

const tables = { edge: tableFor('edge'), core: tableFor('core') };
const grants = (site: 'edge' | 'core', principal: string, op: string, topic: string) => granted(tables[site], principal, op, topic);

/** A group the principal may Describe at the site, so that a refusal is the topic's, not the group's (keys has none). */
const groupOf = (site: 'edge' | 'core', principal: string) =>
  principal === 'loader'
    ? 'playlog-loader'
    : principal === 'mirrormaker'
      ? `${site === 'edge' ? 'core' : 'edge'}-mm2`
      : `playlog-${principal}-attacker-${randomBytes(3).toString('hex')}`;

t.test('at each site, each principal is refused what the table does not grant it there', async (t) => {
  const sites = {
    edge: { bootstrap: twoSite.edgeBrokers, topics: ['play-logs', 'core.playlog-keys'], principals: ['ingest', 'reporter', 'mirrormaker'] },
    core: {
      bootstrap: CORE,
      topics: ['edge.play-logs', 'play-logs-dlq', 'playlog-keys'],
      principals: ['loader', 'reporter', 'keys', 'mirrormaker'],
    },
  } as const;
  for (const [site, s] of Object.entries(sites) as ['edge' | 'core', (typeof sites)['edge' | 'core']][]) {
    for (const principal of s.principals) {
      const caller = { principal } as Caller;
      for (const topic of s.topics) {
        if (!grants(site, principal, 'Write', topic)) {
          const a = await produceAs(s.bootstrap, caller, topic, Buffer.from('{"forged":true}'));
          say(t, `${site}: ${principal} Write ${topic}`, a);
          t.notOk(a.allowed, `${site}: ${principal} may not write ${topic}`);
        }
        if (!grants(site, principal, 'Read', topic)) {
          const a = await readAs(s.bootstrap, caller, topic, groupOf(site, principal));
          say(t, `${site}: ${principal} Read ${topic}`, a);
          t.notOk(a.allowed, `${site}: ${principal} may not read ${topic}`);
        }
      }
      for (const op of ['deleteTopic', 'deleteRecords', 'alterConfig'] as const) {
        const a = await adminAs(s.bootstrap, caller, op, s.topics[0]);
        say(t, `${site}: ${principal} ${op} ${s.topics[0]}`, a);
        t.notOk(a.allowed, `${site}: ${principal} may not ${op}`);
      }
    }
  }
});

t.test('at the edge: forged and replayed key-feed records change nothing, written at either end of the link', async (t) => {
  const { db } = await freshDatabase(t, twoSite.coreDatabaseUrl);
  const topics = await freshEdgeTopic(t);
  const feed = await freshCoreKeyFeed(t, db);
  const key = await feed.create('acme');
  // One worker process: each counts the records it rejects, and the pod's figure is their sum.
  const env: Record<string, string> = { ...(await edgeIngestEnv(twoSite.edgeBrokers, topics.edge, feed.edge)), INGEST_WORKERS: '1' };
  startProcess(t, 'node', ['apps/ingest/dist/main.js'], env);
  const base = `http://127.0.0.1:${env.PORT}`;
  const status = async (k: string) =>
    (await fetch(`${base}/v1/key`, { headers: { authorization: `Bearer ${k}` } }).catch(() => ({ status: 0 }))).status;
  await eventually(async () => (await status(key)) === 200, 120_000, 'the key mirrored to the edge');
  const before = (await readToEnd(feed.topic, twoSite.core)).at(-1)!;

  // Written straight into the edge's mirror (the admin principal: an attacker past the ACLs): a snapshot
  // signed by another key, listing the attacker's key; and today's unsigned format doing the same.
  const forgedKey = generateApiKey();
  const entry = { hash: apiKeyHash(forgedKey), id: 999, client: 'acme', name: 'forged' };
  const snapshot = await readKeySnapshot(db);
  const edgeWriter = await testProducer(t, twoSite.edge);
  await edgeWriter.send(feed.edge, [
    snapshotMessage({ ...snapshot, generation: snapshot.generation + 1_000_000, keys: [entry] }, generateKeyPairSync('ed25519').privateKey),
    { key: `key:${entry.hash}`, value: Buffer.from(JSON.stringify({ v: 1, id: 999, client: 'acme', name: 'forged', revoked: false })) },
  ]);
  // The key revoked at the core; then the snapshot from before, replayed into the core's feed, which
  // MirrorMaker carries to the edge like any record.
  const id = Number((await db.query<{ id: number }>('select id from api_keys')).rows[0]!.id);
  await feed.revoke(id);
  await eventually(async () => (await status(key)) === 401, 120_000, 'the revocation reached the edge');
  await (await testProducer(t, twoSite.core)).send(feed.topic, [{ key: 'snapshot', value: before.value! }]);
  // One legitimate snapshot after all of them: once it is applied at the edge, the others were read.
  const after = await feed.create('acme', 'after');
  await eventually(async () => (await status(after)) === 200, 120_000, 'the next legitimate snapshot at the edge');

  t.equal(await status(forgedKey), 401, 'the forged key never works at the edge');
  t.equal(await status(key), 401, 'the revoked key stays revoked at the edge');
  const metrics = await (await fetch(`http://127.0.0.1:${env.METRICS_PORT}/metrics`)).text();
  const count = (reason: string) =>
    Number(new RegExp(`playlog_key_feed_records_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1]);
  t.equal(count('unknown_signer'), 1, 'the foreign signature rejected');
  t.equal(count('unsigned'), 1, 'the unsigned record rejected');
  t.equal(count('not_newer'), 1, 'the replay rejected: older than the snapshot held');
  t.comment(
    `rejections at the edge: unknown_signer ${count('unknown_signer')}, unsigned ${count('unsigned')}, not_newer ${count('not_newer')}`,
  );
});
