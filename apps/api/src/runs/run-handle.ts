import { WorkflowNotFoundError, type WorkflowExecutionDescription, type WorkflowHandle } from '@temporalio/client';
import { RUN_WORKFLOW_TYPE } from '../../../../workflows/contract';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';

/** A run's workflow and its description; 404 for ids that are not runs. */
export async function describeRun(
  deps: ApiDependencies,
  runId: string,
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
  return { handle, description };
}

export function runNotFound(runId: string) {
  return problems.notFound(`run ${runId} does not exist`);
}
