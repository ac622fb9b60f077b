import { Context } from '@temporalio/activity';
import type { Logger } from 'pino';
import type { NotifyApproversInput } from '../workflows/engine/step-activity';

/**
 * The approval notice of runs whose tenant subscribed no channel to it: a structured log line that
 * says who is asked to decide on what and until when. Runs with subscriptions send their notices
 * through workflows/notifications instead (workflows/engine/notices.ts decides which).
 */
export function createNotifyApprovers(logger: Logger) {
  return async function notifyApprovers(input: NotifyApproversInput): Promise<void> {
    const { workflowExecution } = Context.current().info;
    logger.info(
      {
        workflowId: workflowExecution?.workflowId,
        runId: workflowExecution?.runId,
        stepId: input.stepId,
        template: `${input.templateName} v${input.templateVersion}`,
        startedBy: input.startedBy,
        approvers: { users: input.users, roles: input.roles },
        required: input.required,
        deadline: input.deadline,
        message: input.message,
      },
      'approval requested',
    );
  };
}
