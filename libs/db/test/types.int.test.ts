import pg from 'pg';
import t from 'tap';
import { defaults } from '@playlog/config';
import { createPool } from '../src/index.js';
import { databaseAs } from './helpers.js';

// The stack's database (libs/testing cannot be used here: it depends on this library).
const DATABASE_URL = databaseAs(process.env.DATABASE_URL ?? defaults.databaseUrl);
const QUERY = "select 9007199254740991::int8 as big, date '2026-11-25' as day";

t.test("importing the library leaves pg's global type parsers alone", async (t) => {
  t.equal(pg.types.getTypeParser(pg.types.builtins.INT8)('42'), '42', 'int8 still parsed as a string by default');
  const c = new pg.Client({ connectionString: DATABASE_URL });
  await c.connect();
  t.teardown(() => c.end());
  const row = (await c.query(QUERY)).rows[0];
  t.equal(row.big, '9007199254740991', "another pg client in the process keeps pg's defaults");
  t.type(row.day, Date);
});

t.test('its own connections read int8 as a number and date as YYYY-MM-DD text', async (t) => {
  const pool = createPool(DATABASE_URL, 1, 'test-types');
  t.teardown(() => pool.end());
  t.same((await pool.query(QUERY)).rows[0], { big: 9007199254740991, day: '2026-11-25' });
});
