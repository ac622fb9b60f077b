import { PrismaPg } from '@prisma/adapter-pg';
import { PrismaClient, type Prisma } from '@prisma/client';
import { defaultDependencyTimeouts, type DependencyTimeouts } from './config';

/** A server that stops answering mid-query is given this long beyond the statement timeout it would enforce itself. */
const UNRESPONSIVE_SERVER_MARGIN_MS = 1_000;

type DatabaseTimeouts = Pick<
  DependencyTimeouts,
  'DATABASE_CONNECT_TIMEOUT_MS' | 'DATABASE_STATEMENT_TIMEOUT_MS' | 'DATABASE_TRANSACTION_TIMEOUT_MS'
>;

/**
 * Every wait on the database is bounded: connecting and taking a pooled connection, each statement
 * (by PostgreSQL itself, and by the driver should the server not answer at all), and transactions.
 */
export function createPrismaClient(databaseUrl: string, timeouts: DatabaseTimeouts = defaultDependencyTimeouts): PrismaClient {
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    connectionTimeoutMillis: timeouts.DATABASE_CONNECT_TIMEOUT_MS,
    statement_timeout: timeouts.DATABASE_STATEMENT_TIMEOUT_MS,
    query_timeout: timeouts.DATABASE_STATEMENT_TIMEOUT_MS + UNRESPONSIVE_SERVER_MARGIN_MS,
  });
  return new PrismaClient({
    adapter,
    transactionOptions: { maxWait: timeouts.DATABASE_CONNECT_TIMEOUT_MS, timeout: timeouts.DATABASE_TRANSACTION_TIMEOUT_MS },
  });
}

/**
 * Holds, until the transaction ends, a lock on one logical key (e.g. a tenant's person), so that
 * concurrent writers of the same key take turns. For "did it exist?" followed by an upsert: without
 * it, simultaneous PUTs of a new resource all read "absent" and all answer 201 and audit a creation.
 */
export async function lockKeyForTransaction(tx: Prisma.TransactionClient, ...key: string[]): Promise<void> {
  await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${JSON.stringify(key)}, 0))`;
}
