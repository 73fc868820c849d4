import fc from 'fast-check';

/**
 * Plays as clients might send them, for property tests of the play rules: a good play (dates inside
 * the window before `now`) with up to three fields replaced by values from accepted to refused, absent
 * and null included. About half are valid.
 */
export function mixedPlays(now: number): fc.Arbitrary<Record<string, unknown>> {
  /** Each field from values the rules accept and values they refuse, absent and null included. */
  const int = fc.oneof(
    fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    fc.integer({ min: 0, max: 2 ** 31 - 1 }).map(String),
    fc.constantFrom(-1, 2 ** 31, 1.5, '2147483648', '01', '', ' 1', '1e3', '١٢', null, true),
  );
  const text = (max: number) =>
    fc.oneof(
      fc.string({ minLength: 1, maxLength: max }),
      fc.string({ minLength: 0, maxLength: max + 2 }),
      fc.constantFrom('a\u0000b', 'x\u001f', '\ud800', 'ok\u007f', 42, -7, 1.5, null, {}, []),
    );
  const inWindow = fc.integer({ min: now - 60 * 86_400_000, max: now }).map((ms) => new Date(ms).toISOString());
  /** Per field: values the rules accept. */
  const good = {
    logType: fc.constant('subscription'),
    userId: fc.oneof(fc.string({ minLength: 1, maxLength: 255 }), fc.integer()),
    country: fc.constantFrom('GB', 'gb', 'Us', 'nl'),
    trackId: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    releaseId: fc.integer({ min: 0, max: 2 ** 31 - 1 }).map(String),
    formatId: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    totalTimePlayed: fc.integer({ min: 0, max: 100_000 }),
    playMode: fc.constantFrom('online', 'offline', 'online-cached'),
    dateTimePlayed: inWindow,
  };
  /** Per field: anything from accepted to refused, absent and null included (dates inside the window). */
  const mixed = {
    logType: fc.constantFrom('subscription', 'catalogue', 'radio', '', 1, null, undefined),
    userId: fc.oneof(text(255), fc.constant(undefined)),
    country: fc.constantFrom('GB', 'gb', 'Us', 'UK', 'XX', 'GBR', 'G', 1, null, undefined),
    trackId: fc.oneof(int, fc.constant(undefined)),
    releaseId: fc.oneof(int, fc.constant(undefined)),
    formatId: fc.oneof(int, fc.constant(undefined)),
    totalTimePlayed: fc.oneof(int, fc.constant(undefined)),
    playMode: fc.constantFrom('online', 'offline', 'online-cached', 'streaming', null, 3, undefined),
    endReason: fc.constantFrom('naturalEnd', 'userSkipped', 'other', 'done', null, undefined),
    dateTimePlayed: fc.oneof(
      inWindow,
      fc.constantFrom(
        '2026-11-26T11:00:00',
        '2026-11-26 11:00:00Z',
        '2026-02-30T00:00:00Z',
        '2026-11-26T11:00:00.12345678Z',
        1_700_000_000,
        null,
      ),
    ),
    userAgent: fc.oneof(text(300), fc.constant(undefined)),
    playId: fc.oneof(text(130), fc.constant(undefined)),
  };
  /** A good play with up to three fields replaced by mixed values (or removed). */
  return fc
    .tuple(fc.record(good), fc.record(mixed), fc.subarray(Object.keys(mixed) as (keyof typeof mixed)[], { maxLength: 3 }))
    .map(([base, other, fields]) => {
      const p: Record<string, unknown> = { ...base };
      for (const f of fields) {
        if (other[f] === undefined) delete p[f];
        else p[f] = other[f];
      }
      return p;
    });
}
