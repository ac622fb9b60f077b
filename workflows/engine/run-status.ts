import { upsertSearchAttributes } from '@temporalio/workflow';
import type { RunStatus } from '../contract';
import { RunStatusKey } from '../search-attributes';
import type { RunContext } from './run-context';

/** The run's status, kept in its state and published as the RunStatus search attribute. */
export class RunStatusPublisher {
  private published: RunStatus;

  constructor(private readonly ctx: RunContext) {
    this.published = ctx.state.status;
  }

  current(): RunStatus {
    const { ending, state, inFlight, awaitingDecision } = this.ctx;
    if (ending && state.finishedAt) return ending.status;
    if (state.finishedAt) return 'succeeded';
    if (state.paused) return 'paused';
    if (state.held.length > 0) return 'held';
    const running = [...inFlight];
    if (running.length > 0 && running.every((id) => awaitingDecision.has(id))) return 'waiting_approval';
    return 'running';
  }

  /** The RunStatus search attribute changes with the run's status, never per step. */
  publish(): void {
    const status = this.current();
    this.ctx.state.status = status;
    if (status === this.published) return;
    this.published = status;
    upsertSearchAttributes([{ key: RunStatusKey, value: status }]);
  }
}
