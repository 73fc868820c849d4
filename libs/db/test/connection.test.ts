import t from 'tap';
import { createDb } from '../src/index.js';

t.test("knex's warnings go to the given logger as one structured record each", async (t) => {
  const records: { level: string; obj: object; msg: string }[] = [];
  const logger = {
    warn: (obj: object, msg: string) => records.push({ level: 'warn', obj, msg }),
    error: (obj: object, msg: string) => records.push({ level: 'error', obj, msg }),
  };
  // Nothing listens on port 1: acquiring a connection fails, which knex reports through its logger.
  const db = createDb({ url: 'postgres://x:y@127.0.0.1:1/none', acquireTimeoutMs: 500, logger });
  t.teardown(() => db.destroy());
  await t.rejects(db.raw('select 1'));
  const warning = records.find((r) => r.msg === 'knex warning');
  t.ok(warning, `a record (got ${JSON.stringify(records)})`);
  t.match(warning?.obj, { knex: /Acquire connection error/ });
});
