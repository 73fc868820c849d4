import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

/**
 * The CPUs this process may use: the container's CPU limit when it has one (cgroup v2 `cpu.max`, or
 * cgroup v1's CFS quota), rounded up, else the CPUs the process may run on. os.availableParallelism()
 * alone sees every core of the node, not the pod's limit.
 */
export function availableCpus(read: (path: string) => string = (p) => readFileSync(p, 'utf8')): number {
  const cpus = availableParallelism();
  const quota = cgroupQuota(read);
  return quota === undefined ? cpus : Math.max(1, Math.min(cpus, Math.ceil(quota)));
}

function cgroupQuota(read: (path: string) => string): number | undefined {
  const attempt = (f: () => number | undefined) => {
    try {
      return f();
    } catch {
      return undefined; // no such file: not this cgroup version, or not in a container
    }
  };
  const v2 = attempt(() => {
    const [quota, period] = read('/sys/fs/cgroup/cpu.max').trim().split(/\s+/);
    return quota === 'max' ? undefined : Number(quota) / Number(period);
  });
  if (v2 !== undefined && Number.isFinite(v2) && v2 > 0) return v2;
  const v1 = attempt(() => {
    const quota = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_quota_us').trim());
    const period = Number(read('/sys/fs/cgroup/cpu/cpu.cfs_period_us').trim());
    return quota > 0 && period > 0 ? quota / period : undefined;
  });
  return v1 !== undefined && Number.isFinite(v1) && v1 > 0 ? v1 : undefined;
}
