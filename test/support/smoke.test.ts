import { Client as PgClient } from 'pg';
test('global setup provides a migrated PostgreSQL', async () => {
  const pg = new PgClient({ connectionString: process.env.DATABASE_URL });
  await pg.connect();
  const { rows } = await pg.query(`SELECT count(*)::int AS n FROM "_prisma_migrations" WHERE finished_at IS NOT NULL`);
  await pg.end();
  expect(rows[0].n).toBeGreaterThanOrEqual(1);
});
