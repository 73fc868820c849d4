import t from 'tap';
import { normalizePlay } from '@playlog/schema';
import { PLAY_COLUMNS, playCsvLine } from '../src/index.js';

t.test('a play as a COPY CSV line: columns in PLAY_COLUMNS order, strings quoted, NULL empty', async (t) => {
  const r = normalizePlay(
    {
      logType: 'catalogue',
      userId: 'u "1", x',
      country: 'gb',
      trackId: '7',
      releaseId: 8,
      formatId: 9,
      endReason: 'naturalEnd',
      dateTimePlayed: '2026-11-26T11:00:00.1234567+01:00',
      totalTimePlayed: 31,
      userAgent: 'Acme "Player"\u2028line 2, é',
    },
    { client: 'acme', apiKeyName: 'main', now: Date.parse('2026-11-26T12:00:00Z'), clockSkewMs: 0 },
  );
  if (!r.ok) throw new Error(r.error.message);
  const p = r.play;
  t.equal(
    playCsvLine(p),
    `${p.playId},2026-11-26T10:00:00.123456Z,"acme","main",,catalogue,"u ""1"", x",GB,7,8,9,,"naturalEnd",` +
      `"2026-11-26T11:00:00.1234567+01:00",31,"Acme ""Player""\u2028line 2, é",f,2026-11-26T12:00:00.000Z\n`,
  );
  t.equal(PLAY_COLUMNS.length, 18, 'one field per column');
});
