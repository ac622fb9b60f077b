import { ApplicationFailure } from '@temporalio/activity';
import { StepErrorType } from '../errors';

/**
 * flowpilot's worker never runs arbitrary shell: a shell step runs only on the DolphinScheduler
 * workers a template is published to. The API refuses to start a run with one (422); this fails a
 * run that got one past it (started straight through Temporal) at once, without retrying.
 */
export async function shellStep(): Promise<never> {
  throw ApplicationFailure.create({
    type: StepErrorType.ShellNotRunHere,
    message: 'shell steps run only on DolphinScheduler once the template is published; flowpilot does not run them',
    nonRetryable: true,
  });
}
