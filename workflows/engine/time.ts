import { parseDuration } from '../spec/duration';

/** Workflow time: `Date` inside a workflow is the time of the current workflow task, the same on replay. */
export const now = (): string => new Date().toISOString();

/** The time `duration` from now (ISO). */
export const afterMs = (duration: string): string => new Date(Date.now() + (parseDuration(duration) ?? 0)).toISOString();
