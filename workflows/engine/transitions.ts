import { patched, upsertMemo } from '@temporalio/workflow';
import { RUN_TRANSITIONS_MEMO_KEY, type RunTransition } from '../contract';
import { now } from './time';
import { jsonBytes } from './task-budget';

/** Patch id: runs recorded before their transitions went to the history as memo upserts had none. */
const TRANSITION_EVENTS = 'transition-events';

/**
 * One memo upsert holds at most this much (as JSON): the memo is part of every visibility record a
 * run list returns, so it stays small, and a larger batch takes several upserts.
 */
const MAX_BATCH_BYTES = 16 * 1024;

/**
 * The run's transitions on their way to its event stream (see `RunTransition` in contract.ts).
 * Transitions are recorded as they happen and handed on together when the scheduler goes back to
 * waiting: one memo upsert per workflow task that had any, none for a task of plain activity steps
 * (whose activities' own events tell their story). When a link of the chain ends, the memo entry is
 * removed again, so finished runs list small.
 */
export class TransitionJournal {
  private batch: RunTransition[] = [];
  private enabled?: boolean;
  private upserted = false;

  record(transition: Omit<RunTransition, 'at'>): void {
    this.batch.push({ ...transition, at: now() });
  }

  /**
   * Records a transition that brings others about (a timeout, a group's decision) and hands it on
   * at once, so that it comes before the cancellations it causes in the history.
   */
  recordCause(transition: Omit<RunTransition, 'at'>): void {
    this.record(transition);
    this.flush();
  }

  /** Hands the transitions recorded so far to the history. */
  flush(): void {
    if (this.batch.length === 0) return;
    const batch = this.batch;
    this.batch = [];
    if (!(this.enabled ??= patched(TRANSITION_EVENTS))) return;
    for (const chunk of chunks(batch)) upsertMemo({ [RUN_TRANSITIONS_MEMO_KEY]: chunk });
    this.upserted = true;
  }

  /** The last flush of a link of the chain (it finishes or continues as new). */
  close(): void {
    this.flush();
    if (this.upserted) upsertMemo({ [RUN_TRANSITIONS_MEMO_KEY]: null });
    this.upserted = false;
  }
}

function chunks(transitions: RunTransition[]): RunTransition[][] {
  const result: RunTransition[][] = [];
  let current: RunTransition[] = [];
  let bytes = 0;
  for (const transition of transitions) {
    const size = jsonBytes(transition) + 1;
    if (current.length > 0 && bytes + size > MAX_BATCH_BYTES) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(transition);
    bytes += size;
  }
  result.push(current);
  return result;
}
