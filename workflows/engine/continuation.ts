import { allHandlersFinished, condition, continueAsNew, log, workflowInfo } from '@temporalio/workflow';
import type { RunInput, RunResult, RunState } from '../contract';
import type { CarriedPayload } from './carried-payload';
import { DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS } from './limits';
import type { RunContext } from './run-context';
import { afterMs, now } from './time';
import type { RunStatusPublisher } from './run-status';

/**
 * Continue-as-new and the state it carries. A long run hands its state on to a fresh workflow
 * execution (a new link of the chain) before its history grows past Temporal's limits; the new link
 * starts from what the last one carried, as if it had never stopped.
 */

/** What a link of the chain starts from: the carried state, or a fresh one on the chain's first link. */
export interface CarriedOver {
  state: RunState;
  runDeadline?: string;
  groupDeadlines: Map<string, string>;
  executions: Map<string, number>;
}

export function carriedOver(input: RunInput): CarriedOver {
  const carried = input.carried;
  const state: RunState = carried?.state ?? {
    status: 'running',
    paused: false,
    held: [],
    startedAt: now(),
    steps: Object.fromEntries(input.spec.steps.map((step) => [step.id, { id: step.id, type: step.type, status: 'pending', attempts: 0 }])),
  };
  return {
    state,
    runDeadline: carried ? carried.runDeadline : input.spec.timeout && afterMs(input.spec.timeout),
    groupDeadlines: new Map(Object.entries(carried?.groupDeadlines ?? {})),
    executions: new Map(Object.entries(carried?.executions ?? {})),
  };
}

export class Continuation {
  constructor(
    private readonly ctx: RunContext,
    private readonly status: RunStatusPublisher,
    private readonly groupDeadlines: ReadonlyMap<string, string>,
    private readonly carried: CarriedPayload,
  ) {}

  /**
   * When the history is long enough (or Temporal suggests it), the run drains and continues as new,
   * unless what it would carry is past Temporal's payload limit (carried-payload.ts).
   */
  due(): boolean {
    const info = workflowInfo();
    const limit = this.ctx.input.limits?.continueAsNewAfterEvents ?? DEFAULT_CONTINUE_AS_NEW_AFTER_EVENTS;
    return (info.continueAsNewSuggested || info.historyLength >= limit) && this.carried.fitsContinueAsNew();
  }

  async continueAsNew(): Promise<never> {
    this.status.publish();
    await condition(allHandlersFinished);
    log.info('continuing as new', { historyLength: workflowInfo().historyLength });
    const { input, state, runDeadline, executions, transitions } = this.ctx;
    transitions.close();
    return continueAsNew<(input: RunInput) => Promise<RunResult>>({
      ...input,
      carried: {
        state,
        runDeadline,
        groupDeadlines: Object.fromEntries(this.groupDeadlines),
        executions: Object.fromEntries(executions),
      },
    });
  }
}
