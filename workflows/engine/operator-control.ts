import { log } from '@temporalio/workflow';
import type { ControlCommand, RunState, StepCommand, StepState } from '../contract';
import { refusal } from './approvals';
import type { CarriedPayload } from './carried-payload';
import type { RunContext } from './run-context';
import type { RunStatusPublisher } from './run-status';
import type { StepSettlement } from './settlement';

/**
 * What operators do to a run in flight: pause and resume it, retry or skip a step held by
 * `onError: pause`. Validators refuse what does not apply (nothing reaches history); handlers
 * change the run's state and let the scheduler act on it.
 */
export class OperatorControl {
  constructor(
    private readonly ctx: RunContext,
    private readonly settlement: StepSettlement,
    private readonly carried: CarriedPayload,
    private readonly status: RunStatusPublisher,
  ) {}

  validatePause(pause: boolean): void {
    const { ctx } = this;
    if (ctx.ending || ctx.state.finishedAt) throw refusal('Conflict', 'the run has finished');
    if (pause && ctx.state.paused) throw refusal('Conflict', 'the run is already paused');
    if (!pause && !ctx.state.paused) throw refusal('Conflict', 'the run is not paused');
  }

  setPaused(paused: boolean, command: ControlCommand): RunState {
    this.ctx.state.paused = paused;
    log.info(paused ? 'run paused' : 'run resumed', { by: command.actor.subject, reason: command.reason });
    this.ctx.changed = true;
    this.status.publish();
    return this.ctx.state;
  }

  validateHeld(command: StepCommand): void {
    const { ctx } = this;
    const step = ctx.state.steps[command.stepId];
    if (!step) throw refusal('NotFound', `no step ${command.stepId}`);
    if (ctx.ending || ctx.state.finishedAt) throw refusal('Conflict', 'the run has finished');
    if (!ctx.state.held.includes(command.stepId)) {
      throw refusal('Conflict', `step ${command.stepId} is not held (it is ${step.status})`);
    }
  }

  /** Runs a held step again, as a new execution (its activity id gets `#2`, `#3`…). */
  retryHeld(command: StepCommand): StepState {
    const { ctx } = this;
    const step = ctx.step(command.stepId);
    this.release(step.id);
    ctx.executions.set(step.id, ctx.execution(step.id) + 1);
    Object.assign(step, { status: 'pending', attempts: 0 });
    for (const field of ['startedAt', 'finishedAt', 'output', 'error'] as const) delete step[field];
    ctx.stepsContext[step.id] = { status: 'pending', output: undefined };
    this.carried.stepChanged(step);
    ctx.requeue(step.id);
    log.info('held step retried', { stepId: step.id, by: command.actor.subject });
    return step;
  }

  skipHeld(command: StepCommand): StepState {
    const step = this.ctx.step(command.stepId);
    this.release(step.id);
    this.settlement.settleSkipped(step.id, 'operator');
    log.info('held step skipped', { stepId: step.id, by: command.actor.subject });
    return step;
  }

  private release(id: string): void {
    this.ctx.state.held = this.ctx.state.held.filter((heldId) => heldId !== id);
    this.ctx.changed = true;
  }
}
