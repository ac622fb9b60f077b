import { Prisma } from '@prisma/client';
import { Router } from 'express';
import { Counter, Gauge, Registry } from 'prom-client';
import { failureStreaks } from '../../../common/dolphinscheduler/execution-stats';
import type { ApiDependencies } from '../dependencies';
import { declareRoutes } from '../http/routes';
import { registry as openApi } from '../openapi/registry';

/**
 * Alert metrics for Prometheus at GET /metrics, read from PostgreSQL at scrape time, so every API
 * instance answers the same and nothing is lost when a worker restarts. The figures cover every
 * tenant (labelled by slug), so the endpoint needs a system administrator's token, which
 * Prometheus sends as a bearer token (`authorization: { credentials_file: … }`).
 */
export function createMetricsRouter(deps: ApiDependencies): Router {
  const registry = new Registry();
  const tenantSlugs = async (): Promise<Map<string, string>> =>
    new Map((await deps.prisma.tenant.findMany({ select: { id: true, slug: true } })).map((t) => [t.id, t.slug]));

  new Counter({
    name: 'flowpilot_dolphinscheduler_publish_failures_total',
    help: 'Publishes (and online/offline requests) to DolphinScheduler that failed, by tenant and target',
    labelNames: ['tenant', 'target'],
    registers: [registry],
    async collect() {
      const rows = await deps.prisma.publish.groupBy({ by: ['tenantId', 'target'], where: { status: 'failed' }, _count: { _all: true } });
      const slugs = await tenantSlugs();
      this.reset();
      for (const row of rows) this.inc({ tenant: slugs.get(row.tenantId) ?? row.tenantId, target: row.target }, row._count._all);
    },
  });

  new Gauge({
    name: 'flowpilot_dolphinscheduler_consecutive_failures',
    help: 'Failed executions in a row of a published template on a target (from the execution history cache); absent when the last one did not fail',
    labelNames: ['tenant', 'template_id', 'template', 'target'],
    registers: [registry],
    async collect() {
      const streaks = await failureStreaks(deps.prisma);
      const slugs = await tenantSlugs();
      const names = new Map(
        (await deps.prisma.template.findMany({ where: { id: { in: streaks.map((s) => s.templateId) } }, select: { id: true, name: true } })).map((t) => [t.id, t.name]),
      );
      this.reset();
      for (const streak of streaks) {
        this.set(
          { tenant: slugs.get(streak.tenantId) ?? streak.tenantId, template_id: streak.templateId, template: names.get(streak.templateId) ?? '', target: streak.target },
          streak.failures,
        );
      }
    },
  });

  new Gauge({
    name: 'flowpilot_inspection_findings',
    help: 'Inspection findings that are open or acknowledged, by tenant, rule and status',
    labelNames: ['tenant', 'rule', 'status'],
    registers: [registry],
    async collect() {
      const rows = await deps.prisma.inspectionFinding.groupBy({ by: ['tenantId', 'rule', 'status'], where: { status: { not: 'resolved' } }, _count: { _all: true } });
      const slugs = await tenantSlugs();
      this.reset();
      for (const row of rows) this.set({ tenant: slugs.get(row.tenantId) ?? row.tenantId, rule: row.rule, status: row.status }, row._count._all);
    },
  });

  new Gauge({
    name: 'flowpilot_dolphinscheduler_history_sync_failing',
    help: 'Published definitions whose last execution history sync failed (e.g. the target was down), by tenant and target',
    labelNames: ['tenant', 'target'],
    registers: [registry],
    async collect() {
      const rows = await deps.prisma.dolphinSchedulerHistoryCursor.groupBy({ by: ['tenantId', 'target'], where: { NOT: { lastError: { equals: Prisma.DbNull } } }, _count: { _all: true } });
      const slugs = await tenantSlugs();
      this.reset();
      for (const row of rows) this.set({ tenant: slugs.get(row.tenantId) ?? row.tenantId, target: row.target }, row._count._all);
    },
  });

  const router = Router();
  declareRoutes(router, '', {
    '/metrics': {
      get: async (_req, res) => {
        const text = await registry.metrics();
        res.type(registry.contentType).send(text);
      },
    },
  });
  return router;
}

openApi.registerPath({
  method: 'get',
  path: '/metrics',
  tags: ['Operations'],
  summary: 'Alert metrics for Prometheus (text exposition format); a system administrator’s token',
  description:
    'flowpilot_dolphinscheduler_publish_failures_total, flowpilot_dolphinscheduler_consecutive_failures, flowpilot_inspection_findings and flowpilot_dolphinscheduler_history_sync_failing, read from the database at scrape time.',
  responses: { 200: { description: 'The metrics', content: { 'text/plain': { schema: { type: 'string' } } } } },
});
