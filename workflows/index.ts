/** The workflows the worker bundles. */
export { runTemplate } from './run-template';
export { forEachBatch } from './engine/for-each-batch';
