/** The workflows the worker bundles. */
export { runTemplate } from './run-template';
export { sendNotice } from './notifications/send-notice';
export { testChannel } from './notifications/test-channel';
export { publishQueue } from './publishing/publish-queue';
export { scheduledRun } from './scheduled-run';
export { syncDolphinSchedulerHistory } from './dolphinscheduler/history-sync';
export { runInspections } from './dolphinscheduler/inspections';
export { retentionCleanup } from './retention-cleanup';
export { forEachBatch } from './engine/for-each-batch';
export { sendPublishNotice } from './notifications/send-publish-notice';
