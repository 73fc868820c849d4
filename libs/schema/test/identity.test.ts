import t from 'tap';
import { playIdentity } from '../src/identity.js';

// Identities are stored keys (plays' primary key, Kafka message keys): a new release must compute the
// same id for the same play, or a retry across a deploy would count twice. These vectors were computed
// independently (Python's hashlib: sha256 of the material, first 16 bytes, version 8 and variant bits).
const PINNED: [Parameters<typeof playIdentity>[0], string][] = [
  [
    { client: 'acme', clientPlayId: null, logType: 'subscription', userId: 'user-1', trackId: 12345, instant: '1764000000.1234567' },
    '42dc95d4-b0b5-84c2-9402-62a259a7ed94',
  ],
  [
    { client: 'acme', clientPlayId: 'abc-123', logType: 'catalogue', userId: 'u', trackId: 1, instant: '0.0000000' },
    '394cf374-e523-8b5c-b5de-e26999bd8e55',
  ],
  [
    { client: 'b', clientPlayId: null, logType: 'catalogue', userId: 'ünï', trackId: 0, instant: '1764086399.9999999' },
    '9d37a515-5b8f-80e8-b56e-f4d7465244dd',
  ],
];

t.test('identities are stable across releases (pinned vectors)', async (t) => {
  for (const [parts, id] of PINNED) t.equal(playIdentity(parts), id, JSON.stringify(parts));
});

t.test('every identity is a version-8 RFC 9562 UUID, whatever the hash', async (t) => {
  const bad: string[] = [];
  for (let i = 0; i < 5_000; i++) {
    const id = playIdentity({
      client: 'c',
      clientPlayId: null,
      logType: 'subscription',
      userId: `u${i}`,
      trackId: i,
      instant: `${i}.0000000`,
    });
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id)) bad.push(id);
  }
  t.same(bad, []);
});
