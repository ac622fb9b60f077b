import type { PrismaClient } from '@prisma/client';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { SecretResolver } from '../secrets';
import { createDolphinSchedulerClient, type DolphinSchedulerClient, type DolphinSchedulerClientOptions, type DolphinSchedulerDialect } from './client';

/** Why a target's client could not be made: nothing was sent to DolphinScheduler. */
export class TargetUnusableError extends Error {
  constructor(
    readonly type: 'TargetNotFound' | 'TargetTokenMissing' | 'SecretsUnavailable',
    message: string,
  ) {
    super(message);
    this.name = type;
  }
}

export interface TargetClientDependencies {
  prisma: PrismaClient;
  secrets?: SecretResolver;
  logger: Logger;
  /** Builds the client (tests shorten timeouts or count requests). */
  clientFor?: (options: DolphinSchedulerClientOptions) => DolphinSchedulerClient;
  requestTimeoutMs?: number;
  /** The worker's egress-guarded connection pool: a target's base URL cannot reach a denied address. */
  dispatcher?: Dispatcher;
}

export interface TargetClient {
  client: DolphinSchedulerClient;
  projectName: string;
}

/**
 * A client for a tenant's target, its token read from the tenant's secrets here and handed to the
 * client's `token` header only: never logged, never returned.
 */
export async function openTargetClient(deps: TargetClientDependencies, tenantId: string, targetName: string): Promise<TargetClient> {
  const target = await deps.prisma.dolphinSchedulerTarget.findUnique({ where: { tenantId_name: { tenantId, name: targetName } } });
  if (!target) throw new TargetUnusableError('TargetNotFound', `target ${targetName} does not exist`);
  if (!deps.secrets) throw new TargetUnusableError('SecretsUnavailable', 'this worker has no secret store (SECRETS_KEYS)');
  const token = await deps.secrets.reveal(tenantId, target.tokenSecret);
  if (token === undefined) throw new TargetUnusableError('TargetTokenMissing', `target ${targetName}'s token secret ${target.tokenSecret} does not exist`);
  const client = (deps.clientFor ?? createDolphinSchedulerClient)({
    baseUrl: target.baseUrl,
    token,
    dialect: target.dialect as DolphinSchedulerDialect,
    ...(deps.requestTimeoutMs ? { timeoutMs: deps.requestTimeoutMs } : {}),
    ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}),
    logger: deps.logger.child({ tenantId, target: targetName }),
  });
  return { client, projectName: target.projectName };
}
