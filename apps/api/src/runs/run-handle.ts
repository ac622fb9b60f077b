import { WorkflowNotFoundError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { LRUCache } from 'lru-cache';
import { RUN_WORKFLOW_TYPE } from '../../../../workflows/contract';
import { TenantIdKey } from '../../../../workflows/search-attributes';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';

/**
 * Every read of one run and every update sent to it goes through here, with the caller's tenant:
 * a run of another tenant is a 404 like a run that does not exist, so its existence is not revealed.
 */

const MAX_KNOWN_RUNS = 50_000;

/**
 * Which tenant each run belongs to, as its TenantId search attribute says. A run's tenant never
 * changes, so what any API instance learned stays true for the process's life (the bound only
 * keeps memory flat); a run started or described here is checked again without a round trip.
 */
const runTenants = new LRUCache<string, string>({ max: MAX_KNOWN_RUNS });

export function rememberRunTenant(runId: string, tenantId: string): void {
  runTenants.set(runId, tenantId);
}

/** A run's workflow and its description; 404 for ids that are not runs of the tenant. */
export async function describeRun(
  deps: ApiDependencies,
  runId: string,
  tenantId: string,
): Promise<{ handle: WorkflowHandle; description: WorkflowExecutionDescription }> {
  const handle = deps.temporal.workflow.getHandle(runId);
  let description: WorkflowExecutionDescription;
  try {
    description = await handle.describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw runNotFound(runId);
    throw error;
  }
  // Other workflows share the namespace; they are not runs and this API does not reveal them.
  if (description.type !== RUN_WORKFLOW_TYPE) throw runNotFound(runId);
  const owner = description.typedSearchAttributes.get(TenantIdKey);
  if (owner) rememberRunTenant(runId, owner);
  if (owner !== tenantId) throw runNotFound(runId);
  return { handle, description };
}

/** Checks the run belongs to the tenant before an update is sent to it: free once the run's tenant is known. */
export async function runOfTenant(deps: ApiDependencies, runId: string, tenantId: string): Promise<WorkflowHandle> {
  const known = runTenants.get(runId);
  if (known === undefined) return (await describeRun(deps, runId, tenantId)).handle;
  if (known !== tenantId) throw runNotFound(runId);
  return deps.temporal.workflow.getHandle(runId);
}

export function runNotFound(runId: string) {
  return problems.notFound(`run ${runId} does not exist`);
}
