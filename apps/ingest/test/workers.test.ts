import { availableParallelism } from 'node:os';
import t from 'tap';
import { ConfigError } from '@playlog/config';
import { FIXTURE_CREDENTIALS } from '@playlog/testing';
import { loadIngestConfig as load } from '../src/config.js';

/** Ingest's config from `env`, with stand-in credential files. */
const loadIngestConfig = (env: NodeJS.ProcessEnv) => load({ PLAYLOG_CREDENTIALS_DIR: FIXTURE_CREDENTIALS, ...env });
import { availableCpus } from '../src/cpus.js';
import { workerConfig } from '../src/workers.js';

/** A fake /sys/fs/cgroup: the files given exist, every other path does not. */
const files = (map: Record<string, string>) => (path: string) => {
  const v = map[path];
  if (v === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
  return v;
};

t.test('availableCpus: the container CPU limit (cgroup v2 or v1), rounded up, never above the CPUs there are', async (t) => {
  const cpus = availableParallelism();
  t.equal(availableCpus(files({})), cpus, 'no cgroup files: every CPU the process may use');
  t.equal(availableCpus(files({ '/sys/fs/cgroup/cpu.max': 'max 100000\n' })), cpus, 'v2 without a limit');
  t.equal(availableCpus(files({ '/sys/fs/cgroup/cpu.max': '50000 100000\n' })), 1, 'v2: half a CPU is one worker');
  t.equal(availableCpus(files({ '/sys/fs/cgroup/cpu.max': `${cpus * 100000 + 1} 100000\n` })), cpus, 'a limit above the CPUs there are');
  if (cpus >= 2) t.equal(availableCpus(files({ '/sys/fs/cgroup/cpu.max': '150000 100000\n' })), 2, 'v2: 1.5 CPUs rounds up');
  t.equal(
    availableCpus(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '100000\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' })),
    1,
    'v1 quota',
  );
  t.equal(
    availableCpus(files({ '/sys/fs/cgroup/cpu/cpu.cfs_quota_us': '-1\n', '/sys/fs/cgroup/cpu/cpu.cfs_period_us': '100000\n' })),
    cpus,
    'v1 without a limit',
  );
  t.equal(availableCpus(files({ '/sys/fs/cgroup/cpu.max': 'garbage' })), cpus, 'an unreadable limit is no limit');
});

t.test('INGEST_WORKERS: validated at boot; each worker gets its share of the per-pod client rate limit', async (t) => {
  t.throws(() => loadIngestConfig({ INGEST_WORKERS: '0' }), ConfigError);
  t.throws(() => loadIngestConfig({ INGEST_WORKERS: 'two' }), ConfigError);
  t.equal(loadIngestConfig({}).workers, availableCpus(), 'default: the CPUs available');
  const c = loadIngestConfig({ INGEST_WORKERS: '4', CLIENT_RATE_LIMIT_PLAYS_PER_SECOND: '1000', CLIENT_RATE_LIMIT_BURST_PLAYS: '2002' });
  const w = workerConfig(c);
  t.equal(w.clientRatePlaysPerSecond, 250);
  t.equal(w.clientRateBurstPlays, 501);
  t.equal(w.kafkaMaxInFlight, c.kafkaMaxInFlight, 'in-flight plays stay a per-process bound');
  t.equal(workerConfig(loadIngestConfig({ INGEST_WORKERS: '1' })).clientRatePlaysPerSecond, 50_000, 'one process: the whole limit');
});
