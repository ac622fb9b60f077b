/** The workflows the worker bundles. */
export { runTemplate } from './run-template';
export { retentionCleanup } from './retention-cleanup';
