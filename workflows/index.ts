/** The workflows the worker bundles. */
export { runTemplate } from './run-template';
export { scheduledRun } from './scheduled-run';
