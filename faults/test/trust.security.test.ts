import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import t, { type Test } from 'tap';
import { apiKeyHash, gateMarker, gateSecret, generateApiKey, snapshotMessage, type KeySnapshot } from '@playlog/schema';
import { readKeySnapshot } from '@playlog/db';
import {
  eventually,
  freshDatabase,
  freshKeyFeed,
  freshTopic,
  readToEnd,
  stack,
  stackGateSecret,
  stackSigningKey,
  startApp,
  testName,
  testProducer,
} from '@playlog/testing';
import {
  adminAs,
  grants as granted,
  metadataAs,
  OUTSIDERS,
  produceAs,
  readAs,
  sqlAs,
  tableFor,
  type Attempt,
  type Caller,
} from './attacker.js';

/**
 * The security tier on the one-site stack, as an attacker would try it (docs/security.md; results in
 * docs/reliability.md, "Security"): every listener refuses clients without the stack's certificates;
 * every principal is refused what docs/security.md's table does not grant it; forged, altered, replayed
 * and future key-feed records change nothing at ingest; a gate marker the reporter did not write is not
 * recorded; each Postgres role is refused what it must not do.
 */
const BROKER = stack.brokers;
const CONTROLLER = `127.0.0.1:${process.env.PLAYLOG_KAFKA_CONTROLLER_PORT ?? '19093'}`;
const PG_PORT = Number(new URL(stack.databaseUrl).port);
const say = (t: Test, what: string, a: Attempt) => t.comment(`${what}: ${a.allowed ? 'allowed' : 'refused'} (${a.got.slice(0, 160)})`);

t.test('every Kafka listener refuses plaintext, TLS without a certificate, and a certificate of another CA', async (t) => {
  const control = await metadataAs(BROKER, { principal: 'admin' });
  t.ok(control.allowed, `the stack's admin certificate is answered: ${control.got}`);
  for (const [listener, bootstrap] of [
    ['broker listener', BROKER],
    ['controller listener', CONTROLLER],
  ] as const) {
    for (const [what, caller] of OUTSIDERS) {
      const a = await metadataAs(bootstrap, caller);
      say(t, `${listener} ${bootstrap}, ${what}`, a);
      t.notOk(a.allowed, `${listener}: ${what} refused`);
    }
  }
});

type Op = 'Read' | 'Write';
const TOPICS = ['play-logs', 'play-logs-dlq', 'playlog-keys'];
const table = tableFor('single');
const grants = (principal: string, op: Op, topic: string) => granted(table, principal, op, topic);
/** A group the principal may Describe (its own prefix), so that a refusal is the topic's, not the group's. */
const groupOf = (principal: string) =>
  principal === 'loader' ? 'playlog-loader' : `playlog-${principal}-attacker-${randomBytes(3).toString('hex')}`;

t.test("each app principal is refused every topic operation docs/security.md's table does not grant it", async (t) => {
  for (const principal of ['ingest', 'loader', 'reporter', 'keys'] as const) {
    for (const topic of TOPICS) {
      for (const op of ['Write', 'Read'] as Op[]) {
        if (grants(principal, op, topic)) continue;
        const a =
          op === 'Write'
            ? await produceAs(BROKER, { principal }, topic, Buffer.from('{"forged":true}'))
            : await readAs(BROKER, { principal }, topic, groupOf(principal));
        say(t, `${principal} ${op} ${topic}`, a);
        t.notOk(a.allowed, `${principal} may not ${op} ${topic}`);
        t.match(a.got, /authoriz/i, 'refused by the authorizer');
      }
    }
    for (const op of ['deleteTopic', 'deleteRecords', 'alterConfig'] as const) {
      const a = await adminAs(BROKER, { principal }, op, 'play-logs');
      say(t, `${principal} ${op} play-logs`, a);
      t.notOk(a.allowed, `${principal} may not ${op}`);
    }
    const create = await adminAs(BROKER, { principal }, 'createTopic', `play-logs-forged-${randomBytes(3).toString('hex')}`);
    say(t, `${principal} createTopic`, create);
    t.notOk(create.allowed, `${principal} may not create a topic`);
  }
  // What the table grants still works (else a stack refusing everything would pass the above).
  const plays = await freshTopic(t, 1);
  t.ok((await produceAs(BROKER, { principal: 'ingest' }, plays, Buffer.from('x'))).allowed, 'ingest writes a plays topic');
  t.ok((await readAs(BROKER, { principal: 'loader' }, plays, 'playlog-loader')).allowed, 'the loader reads it');
  const keys = await freshTopic(t, 1, 'keys');
  t.ok((await produceAs(BROKER, { principal: 'keys' }, keys, Buffer.from('x'))).allowed, 'the keys CLI writes a key feed');
  t.ok((await readAs(BROKER, { principal: 'ingest' }, keys, groupOf('ingest'))).allowed, 'ingest reads it');
});

/** A signed-looking snapshot record with `over` changed in its payload but its signature kept. */
function altered(record: { value: Buffer | null }, change: (payload: string) => string): Buffer {
  const envelope = JSON.parse(record.value!.toString()) as { payload: string };
  return Buffer.from(JSON.stringify({ ...envelope, payload: change(envelope.payload) }));
}

t.test('forged, altered, replayed and future key-feed records change nothing at ingest', async (t) => {
  const { db } = await freshDatabase(t);
  const feed = await freshKeyFeed(t, db);
  const key = await feed.create('acme');
  // One worker process: each counts the records it rejects, and the pod's figure is their sum.
  const ingest = await startApp(t, 'ingest', {
    KAFKA_BROKERS: BROKER,
    KAFKA_TOPIC: await freshTopic(t, 1),
    KAFKA_KEYS_TOPIC: feed.topic,
    INGEST_WORKERS: '1',
  });
  const status = async (k: string) => (await fetch(`${ingest.base}/v1/key`, { headers: { authorization: `Bearer ${k}` } })).status;
  await eventually(async () => (await status(key)) === 200, 20_000, 'the key known');
  const before = (await readToEnd(feed.topic)).at(-1)!; // the snapshot that lists the key
  const forgedKey = generateApiKey();
  const forgedEntry = { hash: apiKeyHash(forgedKey), id: 999, client: 'acme', name: 'forged' };
  const producer = await testProducer(t); // the admin principal: an attacker past the ACLs
  const write = (value: Buffer, k = 'snapshot') => producer.send(feed.topic, [{ key: k, value }]);

  // 1. A snapshot that lists a key of the attacker's, signed with a key of the attacker's.
  const attacker = generateKeyPairSync('ed25519').privateKey;
  const current = await readKeySnapshot(db);
  await write(
    snapshotMessage({ ...current, generation: current.generation + 1_000_000, keys: [...current.keys, forgedEntry] }, attacker).value,
  );
  // 2. The core's last snapshot, its payload changed to list that key, its signature kept.
  await write(altered(before, (p) => p.replace('"keys":[', `"keys":[${JSON.stringify(forgedEntry)},`)));
  // 3. Today's unsigned format: a record that makes the key, and a heartbeat dated 9999.
  await write(Buffer.from(JSON.stringify({ v: 1, id: 999, client: 'acme', name: 'forged', revoked: false })), `key:${forgedEntry.hash}`);
  await write(Buffer.from(JSON.stringify({ v: 1, heartbeat: '9999-12-31T00:00:00.000Z', keys: 1 })), 'heartbeat');
  // 4. The key revoked at the core; then the snapshot from before the revocation replayed.
  const id = Number((await db.query<{ id: number }>('select id from api_keys')).rows[0]!.id);
  await feed.revoke(id);
  await eventually(async () => (await status(key)) === 401, 20_000, 'the revocation applied');
  await write(before.value!);
  // 5. A snapshot signed by the core's own key but dated in the future (a core clock gone wrong).
  const future: KeySnapshot = { ...(await readKeySnapshot(db)), issuedAt: Date.parse('9999-12-31T00:00:00Z'), keys: [...current.keys] };
  await write(snapshotMessage(future, stackSigningKey()).value);
  // …then one legitimate snapshot, so everything above has been read once ingest has applied it.
  const marker = await feed.create('acme', 'after');
  await eventually(async () => (await status(marker)) === 200, 20_000, 'the next legitimate snapshot applied');

  t.equal(await status(forgedKey), 401, 'the forged key never works');
  t.equal(await status(key), 401, 'the revoked key stays revoked');
  const metrics = await (await fetch(`${ingest.metrics}/metrics`)).text();
  const count = (reason: string) =>
    Number(new RegExp(`playlog_key_feed_records_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec(metrics)?.[1]);
  for (const [reason, n] of [
    ['unknown_signer', 1],
    ['bad_signature', 1],
    ['unsigned', 2],
    ['not_newer', 1],
    ['from_future', 1],
  ] as const) {
    t.equal(count(reason), n, `${reason}: ${n} record(s) rejected, counted`);
  }
  t.comment(
    `rejections at ingest: ${['unknown_signer', 'bad_signature', 'unsigned', 'not_newer', 'from_future'].map((r) => `${r} ${count(r)}`).join(', ')}`,
  );
});

t.test('a gate marker written with ingest’s credentials is not recorded; the reporter’s is', async (t) => {
  const { url, db } = await freshDatabase(t);
  const topic = await freshTopic(t, 1);
  const loader = await startApp(t, 'loader', {
    KAFKA_BROKERS: BROKER,
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: testName('group'),
    KAFKA_DLQ_TOPIC: await freshTopic(t, 1, 'dlq'),
    KAFKA_KEYS_TOPIC: await freshTopic(t, 1, 'keys'),
    DATABASE_URL: url,
    LOADER_BATCH_WAIT_MS: '100',
  });
  const forgedRun = randomUUID();
  const realRun = randomUUID();
  const made = (run: string, secret = stackGateSecret()) => gateMarker(run, 0, secret);
  const forged = [
    made(forgedRun, gateSecret(randomBytes(32).toString('base64'))), // a MAC with a secret of its own
    Buffer.from(JSON.stringify({ v: 'gate', run: forgedRun, p: 0, at: new Date().toISOString(), mac: randomBytes(32).toString('base64') })),
  ];
  for (const value of forged) {
    const a = await produceAs(BROKER, { principal: 'ingest' }, topic, value, `gate:${forgedRun}`);
    t.ok(a.allowed, `ingest may write its plays topic, marker included: ${a.got}`);
  }
  const real = await produceAs(BROKER, { principal: 'reporter' }, topic, made(realRun), `gate:${realRun}`);
  t.ok(real.allowed, 'the reporter writes its marker');
  const runs = await eventually(
    async () => {
      const r = await db.query<{ run_id: string }>('select run_id from gate_marks');
      return r.rowCount! > 0 ? r.rows.map((x) => x.run_id) : undefined;
    },
    30_000,
    'the real marker recorded',
  );
  t.same(runs, [realRun], "only the reporter's marker is recorded: the forged ones release no gate");
  const metrics = await (await fetch(`${loader.base}/metrics`)).text();
  t.match(metrics, /^playlog_loader_gate_markers_rejected_total 2$/m, 'both forged markers counted');
});

t.test('each Postgres role is refused what it must not do; no one gets in without TLS and a certificate of the stack', async (t) => {
  const { url } = await freshDatabase(t);
  const db = new URL(url).pathname.slice(1);
  const refused: [string, Caller, string][] = [
    ['loader changes an issued report', { principal: 'loader' }, "update report_versions set status = 'final'"],
    ['loader deletes report figures', { principal: 'loader' }, 'delete from daily_usage'],
    [
      'loader issues a version',
      { principal: 'loader' },
      "insert into report_versions values ('x', '2026-01-01', 1, 'final', now(), 'UTC', 30, 0, 0, '', '', '{}')",
    ],
    ['loader drops the plays', { principal: 'loader' }, 'drop table plays'],
    ['loader truncates the plays', { principal: 'loader' }, 'truncate plays'],
    ['loader un-revokes a key', { principal: 'loader' }, 'update api_keys set revoked_at = null'],
    ['loader drops a recent day', { principal: 'loader' }, 'select drop_play_partitions_before(current_date)'],
    [
      'reporter adds a play',
      { principal: 'reporter' },
      "insert into plays (play_id, played_at, client, api_key_name, log_type, user_id, country, track_id, release_id, format_id, date_time_played, total_time_played, received_at) values (gen_random_uuid(), now(), 'x', 'k', 'subscription', 'u', 'GB', 1, 1, 1, 'x', 1, now())",
    ],
    ['reporter deletes plays', { principal: 'reporter' }, 'delete from plays'],
    [
      'reporter makes a key',
      { principal: 'reporter' },
      "insert into api_keys (client, name, key_hash, key_prefix) values ('x', 'y', 'z', 'p')",
    ],
    ['keys reads the plays', { principal: 'keys' }, 'select count(*) from plays'],
    ['migrate is not a superuser', { principal: 'migrate' }, 'create role intruder superuser'],
    ['ingest has no role at all', { principal: 'ingest' }, 'select 1'],
    ['no TLS (the admin role)', { plaintext: true }, 'select 1'],
    ['TLS without a certificate', { tlsOnly: true }, 'select 1'],
    ['a certificate for CN=admin from another CA', { rogue: true }, 'select 1'],
  ];
  for (const [what, caller, sql] of refused) {
    const a = await sqlAs(PG_PORT, db, caller, sql);
    say(t, what, a);
    t.notOk(a.allowed, `${what}: refused`);
  }
  // What each role does do still works.
  for (const [what, caller, sql] of [
    ['loader reads the keys it publishes', { principal: 'loader' }, 'select count(*) from api_keys'],
    ['reporter reads plays', { principal: 'reporter' }, 'select count(*) from plays'],
    ['keys lists keys', { principal: 'keys' }, 'select count(*) from api_keys'],
  ] as [string, Caller, string][]) {
    const a = await sqlAs(PG_PORT, db, caller, sql);
    t.ok(a.allowed, `${what}: ${a.got}`);
  }
});
