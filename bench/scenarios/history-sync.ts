import { randomUUID } from 'node:crypto';
import { Keyring } from '../../apps/common/crypto/keyring';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { createDolphinSchedulerClient } from '../../activities/dolphinscheduler/client';
import { HISTORY_SYNC_WORKFLOW_TYPE, type HistorySyncResult } from '../../workflows/dolphinscheduler/contract';
import { startFakeDolphinScheduler } from '../../test/support/dolphinscheduler-fake';
import type { BenchEnvironment } from '../environment';
import { round } from '../stats';

export interface HistorySyncBenchResult {
  definitions: number;
  instances: number;
  /** The first sync of every instance, through the sync workflow on a worker, as the schedule runs it. */
  firstSync: { seconds: number; requests: number; cached: number };
  /** Then one new instance per definition. */
  incremental: { seconds: number; requests: number; maxRequestsPerDefinition: number };
  targetSeconds: number;
}

/**
 * The execution history sync against the local 3.3+ fake (test/support/dolphinscheduler-fake.ts):
 * a first sync of `instances` instances spread over `definitions` published definitions, then a
 * sync that finds one new instance per definition, counting the requests the fake received.
 */
export async function measureHistorySync(env: BenchEnvironment, options: { definitions: number; instances: number }): Promise<HistorySyncBenchResult> {
  const fake = await startFakeDolphinScheduler();
  try {
    const keyring = Keyring.parse(Keyring.generateEntry('bench'), 'SECRETS_KEYS');
    const secrets = new SecretStore(env.prisma, keyring);
    const tenant = await env.prisma.tenant.create({ data: { slug: `bench-history-${randomUUID()}`, name: 'bench history' } });
    await secrets.put(tenant.id, 'DS_TOKEN', { value: fake.token }, 'bench');
    await env.prisma.dolphinSchedulerTarget.create({
      data: { tenantId: tenant.id, name: 'bench', baseUrl: fake.url, tokenSecret: 'DS_TOKEN', projectName: 'bench', tenantCode: 'default', dialect: 'v3.3', createdBy: 'bench', updatedBy: 'bench' },
    });

    // Published definitions, as the publish workflow leaves them: a definition in DolphinScheduler and a publish record.
    const client = createDolphinSchedulerClient({ baseUrl: fake.url, token: fake.token, dialect: 'v3.3' });
    const project = await client.createProject({ name: 'bench' });
    const perDefinition = Math.ceil(options.instances / options.definitions);
    const definitionCodes: number[] = [];
    for (let i = 0; i < options.definitions; i++) {
      const [code] = await client.genTaskCodes(project.code, 1);
      const definition = await client.createDefinition(project.code, {
        name: `bench-${i}`,
        tenantCode: 'default',
        tasks: [{ code: code!, name: 'only', taskType: 'SHELL', taskParams: { rawScript: 'echo bench', localParams: [], resourceList: [] } }],
        relations: [{ preTaskCode: 0, postTaskCode: code! }],
      });
      const template = await env.prisma.template.create({ data: { tenantId: tenant.id, name: `bench-history-${i}`, createdBy: 'bench' } });
      await env.prisma.publish.create({
        data: {
          tenantId: tenant.id,
          templateId: template.id,
          templateVersion: 1,
          target: 'bench',
          action: 'publish',
          status: 'published',
          requestHash: randomUUID(),
          workflowId: `bench-${template.id}`,
          projectCode: BigInt(project.code),
          definitionCode: BigInt(definition.code),
          definitionVersion: definition.version,
          taskCodes: { only: code! },
          requestedBy: 'bench',
          finishedAt: new Date(),
        },
      });
      fake.seedInstances(project.code, definition.code, perDefinition);
      definitionCodes.push(definition.code);
    }

    const taskQueue = `bench-history-${randomUUID()}`;
    await env.startWorker(taskQueue, { prisma: env.prisma, secrets });
    const sync = async () => {
      const mark = fake.requests.length;
      const started = performance.now();
      const result: HistorySyncResult = await env.client.workflow.execute(HISTORY_SYNC_WORKFLOW_TYPE, {
        workflowId: `bench-history-sync-${randomUUID()}`,
        taskQueue,
        args: [{ tenantId: tenant.id }],
      });
      const seconds = (performance.now() - started) / 1000;
      const failed = result.targets.flatMap((t) => [t.error, ...t.definitions.map((d) => d.error)]).filter(Boolean);
      if (failed.length > 0) throw new Error(`the sync failed: ${JSON.stringify(failed)}`);
      return { seconds, requests: fake.requests.length - mark, result };
    };

    const first = await sync();
    const cached = await env.prisma.dolphinSchedulerExecution.count({ where: { tenantId: tenant.id } });
    for (const code of definitionCodes) fake.seedInstances(project.code, code, 1);
    const incremental = await sync();
    const perDefinitionRequests = incremental.result.targets.flatMap((t) => t.definitions.map((d) => d.requests));
    return {
      definitions: options.definitions,
      instances: perDefinition * options.definitions,
      firstSync: { seconds: round(first.seconds, 2), requests: first.requests, cached },
      incremental: { seconds: round(incremental.seconds, 2), requests: incremental.requests, maxRequestsPerDefinition: Math.max(...perDefinitionRequests) },
      targetSeconds: 30,
    };
  } finally {
    await fake.close();
  }
}
