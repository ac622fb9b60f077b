/** The workflows the worker bundles. */
export { runTemplate } from './run-template';
export { sendNotice } from './notifications/send-notice';
export { testChannel } from './notifications/test-channel';
export { publishQueue } from './publishing/publish-queue';
