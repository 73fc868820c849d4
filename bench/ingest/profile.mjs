// Where ingest's CPU goes: the built ingest under `node --cpu-prof`, loaded for BENCH_DURATION seconds on
// one route (a fresh process per route, so each profile holds one workload), then summarised by
// self time. Usage: bash bench/ingest/profile.sh   Writes bench/ingest/out/profile.md.
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { cpuSeconds, fmt, freshDatabase, freshTopic, outDir, runMain, table, yesterdayUtc } from '../lib/common.mjs';
import { summarize } from '../lib/cpuprofile.mjs';
import { createKey, ingestBodies, startIngest, V12_PATH } from './targets.mjs';

const duration = Number(process.env.BENCH_DURATION ?? 10);

async function main() {
  const out = outDir('ingest');
  const db = await freshDatabase('bench_ingest_prof');
  const key = createKey(db.url);
  const topic = await freshTopic('plays');
  const { bulk, v12 } = ingestBodies({ seed: 4242, day: yesterdayUtc(), pool: 50_000, batch: 100 });
  const sections = [];
  for (const [route, path, bodies, connections, playsPer] of [
    ['bulk, 100 plays per request', '/v1/play-logs', bulk, 32, 100],
    ['7digital, 1 item per request', V12_PATH, v12, 128, 1],
  ]) {
    const dir = join(out, `prof-${playsPer}`);
    rmSync(dir, { recursive: true, force: true });
    const { proc, base } = await startIngest(
      {
        DATABASE_URL: db.url,
        KAFKA_TOPIC: topic,
        CLIENT_RATE_LIMIT_PLAYS_PER_SECOND: '0',
        // One process: the profiler sees the thread doing the work (with workers it would profile an idle primary).
        INGEST_WORKERS: '1',
      },
      { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', dir] },
    );
    let i = 0;
    const cpu0 = cpuSeconds(proc.pid);
    const r = await new Promise((res, rej) =>
      autocannon(
        {
          url: `${base}${path}`,
          method: 'POST',
          connections,
          duration,
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          requests: [
            {
              setupRequest: (req) => {
                req.body = bodies[i++ % bodies.length];
                return req;
              },
            },
          ],
        },
        (err, x) => (err ? rej(err) : res(x)),
      ),
    );
    const cpu = (cpuSeconds(proc.pid) - cpu0) / r.duration;
    await proc.stop();
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    const s = summarize(join(dir, file), 25);
    const perPlayUs = (cpu * 1e6) / ((r['2xx'] * playsPer) / r.duration);
    sections.push(
      `### ${route}, ${connections} connections, ${duration} s under the profiler`,
      '',
      `${fmt.int(r['2xx'] / r.duration)} req/s (${fmt.int((r['2xx'] * playsPer) / r.duration)} plays/s), ingest process CPU ${fmt.f2(cpu)} cores ` +
        `(main thread and librdkafka's), i.e. ${fmt.f1(perPlayUs)} µs of CPU per play. Main-thread self time (whole process life, start-up included):`,
      '',
      table(
        ['owner', '%'],
        s.byOwner.slice(0, 14).map((x) => [x.what, x.pct]),
      ),
      '',
      table(
        ['function', '%'],
        s.byFunction.slice(0, 25).map((x) => [x.what.replaceAll('|', '\\|'), x.pct]),
      ),
      '',
    );
    console.log(sections.slice(-8).join('\n'));
  }
  writeFileSync(join(out, 'profile.md'), sections.join('\n'));
  return 0;
}

runMain(main, 300);
