/** The workflows the worker bundles. */
export { runTemplate } from './run-template';
