import { PrismaPg } from '@prisma/adapter-pg';
import { defineConfig } from 'prisma/config';

// Prisma's native engines cannot be downloaded in every environment we run in, so the CLI uses
// its JavaScript engines and reaches PostgreSQL through the same driver adapter as the app.
export default defineConfig({
  engine: 'js',
  experimental: { adapter: true },
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  async adapter() {
    const connectionString = process.env.DATABASE_URL;
    if (!connectionString) throw new Error('DATABASE_URL must be set to run Prisma commands');
    return new PrismaPg({ connectionString });
  },
});
