import { executionInfoFromRaw } from '@temporalio/client/lib/helpers';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { RunStatusKey, StartedByKey, TemplateIdKey, TemplateVersionKey } from '../../../../workflows/search-attributes';
import type { ApiDependencies } from '../dependencies';
import { buildRunsQuery, decodeCursor, encodeCursor } from './list-query';
import { runStatusOf } from './run-status';
import type { ListRunsQuery, RunSummary } from './schemas';

/**
 * Lists runs from Temporal visibility, which is the record of what ran: the API keeps no copy.
 * Visibility is eventually consistent, so a run started a moment ago may not be listed yet.
 * The raw service call is used rather than `client.workflow.list` because only it exposes the
 * page token that a client needs to continue later.
 */
export async function listRuns(
  deps: ApiDependencies,
  filters: ListRunsQuery,
  tenantId: string,
): Promise<{ items: RunSummary[]; nextCursor: string | null }> {
  const query = buildRunsQuery(tenantId, filters);
  const nextPageToken = filters.cursor ? decodeCursor(query, filters.cursor) : undefined;
  const namespace = deps.temporal.options.namespace;
  const response = await deps.temporal.workflowService.listWorkflowExecutions({
    namespace,
    query,
    pageSize: filters.limit,
    ...(nextPageToken ? { nextPageToken } : {}),
  });
  const items = await Promise.all(
    (response.executions ?? []).map(async (raw) =>
      runSummaryOf(await executionInfoFromRaw(raw, deps.temporal.options.loadedDataConverter, raw, namespace)),
    ),
  );
  const token = response.nextPageToken;
  return { items, nextCursor: token && token.length > 0 ? encodeCursor(query, token) : null };
}

export function runSummaryOf(info: Pick<WorkflowExecutionInfo, 'workflowId' | 'status' | 'typedSearchAttributes' | 'startTime' | 'closeTime' | 'memo'>): RunSummary {
  const attributes = info.typedSearchAttributes;
  // Visibility does not return the start summary; the memo holds what it was made from.
  const templateName = info.memo?.templateName;
  const version = attributes.get(TemplateVersionKey) ?? null;
  return {
    runId: info.workflowId,
    templateId: attributes.get(TemplateIdKey) ?? null,
    version,
    status: runStatusOf(info.status.name, attributes.get(RunStatusKey)),
    startedBy: attributes.get(StartedByKey) ?? null,
    startedAt: info.startTime.toISOString(),
    closedAt: info.closeTime?.toISOString() ?? null,
    summary: typeof templateName === 'string' ? `${templateName} v${version ?? '?'}` : null,
  };
}
