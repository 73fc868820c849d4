/**
 * Realistic plays for the demo and for load: many users, a catalogue with a long tail of popularity,
 * a mix of countries, play modes, skips, 0-second prefetches, and the timestamp formats real clients
 * send (7 fractional digits, ±hh:mm offsets, numbers as strings). Seeded, so the same seed and day give
 * the same plays (a rerun is deduplicated downstream, not double-counted).
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const COUNTRIES = ['GB', 'GB', 'GB', 'US', 'US', 'DE', 'FR', 'NL', 'SE', 'IE', 'ES', 'IT', 'BR', 'JP', 'AU'];
const MODES = ['online', 'online', 'online', 'offline', 'online-cached'];
const END_REASONS = ['naturalEnd', 'naturalEnd', 'userSkipped', 'other'];
const AGENTS = [
  'AcmeMusic/5.2.1 (Android 14; Pixel 8)',
  'AcmeMusic/5.2.0 (iOS 18.1; iPhone15,2)',
  'AcmeMusic/5.1.9 (Windows 11)',
  'AcmeCar/2.0 (Automotive)',
];
const OFFSETS = [0, 0, 0, 60, 120, -300, 540, 330];

export interface GenOptions {
  seed: number;
  /** Plays fall within this UTC day (YYYY-MM-DD); default: the hour before now. */
  day?: string;
  users: number;
  tracks: number;
}

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** `ms` since the epoch written in a ±hh:mm offset (or Z), with 7 fractional digits. */
export function formatInstant(ms: number, offsetMinutes: number, ticks: number): string {
  const local = new Date(ms + offsetMinutes * 60_000);
  const base = local.toISOString().slice(0, 19);
  const frac = `${pad(local.getUTCMilliseconds(), 3)}${pad(ticks, 4)}`;
  if (offsetMinutes === 0) return `${base}.${frac}Z`;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${base}.${frac}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
}

export function playGenerator(opts: GenOptions) {
  const rnd = mulberry32(opts.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  // Popularity: a few hits, a long tail (squared uniform skews towards low track numbers).
  const track = () => 1_000 + Math.floor(rnd() ** 2 * opts.tracks);
  const window = () => {
    if (opts.day) {
      const start = Date.parse(`${opts.day}T00:00:00Z`);
      return start + Math.floor(rnd() * 86_400_000);
    }
    return Date.now() - 60_000 - Math.floor(rnd() * 3_600_000);
  };
  let n = 0;
  return function next(): Record<string, unknown> {
    n++;
    const logType = rnd() < 0.85 ? 'subscription' : 'catalogue';
    const trackId = track();
    const full = 120 + Math.floor(rnd() * 180);
    const r = rnd();
    const seconds = r < 0.05 ? 0 : r < 0.2 ? Math.floor(rnd() * 30) : r < 0.25 ? 29 + Math.floor(rnd() * 3) : full;
    const play: Record<string, unknown> = {
      logType,
      userId: `user-${1 + Math.floor(rnd() * opts.users)}`,
      country: pick(COUNTRIES),
      trackId: rnd() < 0.1 ? String(trackId) : trackId,
      releaseId: 500_000 + Math.floor(trackId / 12),
      formatId: pick([26, 26, 17, 55]),
      dateTimePlayed: formatInstant(window(), pick(OFFSETS), Math.floor(rnd() * 10_000)),
      totalTimePlayed: rnd() < 0.1 ? String(seconds) : seconds,
      userAgent: pick(AGENTS),
    };
    if (logType === 'subscription') play.playMode = pick(MODES);
    else play.endReason = seconds >= full ? 'naturalEnd' : pick(END_REASONS);
    if (rnd() < 0.02) play.playId = `seed${opts.seed}-${n}`;
    return play;
  };
}
