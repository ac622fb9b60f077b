import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { Actor } from '../contract';

/**
 * The publish workflow's public surface, shared by the API and the worker. One queue workflow per
 * (tenant, template, target) takes publishes, online and offline requests one at a time, so two of
 * them never interleave on one DolphinScheduler definition. Everything it does is recorded in the
 * `Publish` table by its activities; its history holds ids and statuses, never a token or a spec.
 */

export const PUBLISH_QUEUE_WORKFLOW_TYPE = 'publishQueue';

/** REST dialects: `v3.1` covers 3.1 and 3.2 (process-definition), `v3.3` 3.3 and later (workflow-definition). */
export type Dialect = 'v3.1' | 'v3.3';

export type PublishAction = 'publish' | 'online' | 'offline';

export const PUBLISH_STATUSES = [
  'queued',
  'awaiting_approval',
  'running',
  'published',
  'online',
  'offline',
  'failed',
  'rejected',
] as const;
export type PublishStatus = (typeof PUBLISH_STATUSES)[number];

/** Statuses a publish record keeps for good. */
export const FINAL_PUBLISH_STATUSES: readonly PublishStatus[] = ['published', 'online', 'offline', 'failed', 'rejected'];

export interface PublishQueueInput {
  tenantId: string;
  templateId: string;
  target: string;
  /** Requests carried across continue-as-new. */
  pending?: PublishRequest[];
}

export interface PublishRequest {
  /** The `Publish` record this request fills in. */
  publishId: string;
  action: PublishAction;
  requireApproval: boolean;
  requestedBy: string;
}

export interface PublishDecision {
  decision: 'approved' | 'rejected';
  by: string;
  at: string;
  comment?: string;
}

export interface PublishDecisionCommand {
  publishId: string;
  actor: Actor;
  comment?: string;
}

/** What the queue is doing, for the API and tests. */
export interface PublishQueueState {
  current?: { publishId: string; phase: 'awaiting_approval' | 'running' };
  pending: string[];
}

export const enqueuePublishSignal = defineSignal<[PublishRequest]>('enqueuePublish');
export const approvePublishUpdate = defineUpdate<PublishDecision, [PublishDecisionCommand]>('approvePublish');
export const rejectPublishUpdate = defineUpdate<PublishDecision, [PublishDecisionCommand]>('rejectPublish');
export const publishQueueStateQuery = defineQuery<PublishQueueState>('publishQueueState');

/** One queue per tenant, template and target: Temporal's workflow id uniqueness is the lock. */
export function publishQueueWorkflowId(tenantId: string, templateId: string, target: string): string {
  return `publish-${tenantId}-${templateId}-${target}`;
}

/** The inspection rules: what the worker's inspections evaluate and the API's filters name. */
export const INSPECTION_RULES = [
  'definition-drift',
  'template-without-owner',
  'unconfirmed-dependency',
  'consecutive-failures',
  'failed-publish',
  'schedule-online-definition-offline',
] as const;
export type InspectionRule = (typeof INSPECTION_RULES)[number];
