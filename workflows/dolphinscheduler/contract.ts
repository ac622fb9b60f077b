/**
 * The execution history sync and the inspections: their workflows' inputs and results and the
 * activities they call, shared by the API (which starts a sync for `?refresh=true` and an
 * inspection for `POST /api/v1/inspections/run`) and the worker (which runs both on schedules).
 */

export const HISTORY_SYNC_WORKFLOW_TYPE = 'syncDolphinSchedulerHistory';
export const INSPECTIONS_WORKFLOW_TYPE = 'runInspections';

/** The Temporal Schedules the worker creates at start-up (one each for all tenants). */
export const HISTORY_SYNC_SCHEDULE_ID = 'flowpilot-dolphinscheduler-history-sync';
export const INSPECTIONS_SCHEDULE_ID = 'flowpilot-inspections';

/** What one sync covers: everything, a tenant, or one template (optionally on one target). */
export interface HistorySyncScope {
  tenantId?: string;
  templateId?: string;
  target?: string;
}

/** The definitions of one tenant on one target: one activity syncs them with one client. */
export interface HistoryTargetGroup {
  tenantId: string;
  target: string;
  /** Only this template's definition on the target. */
  templateId?: string;
}

/** A failure as the sync records it: never a token, never a stack. */
export interface SyncError {
  type: string;
  message: string;
  code?: number;
  retryable?: boolean;
}

export interface DefinitionSyncResult {
  templateId: string;
  definitionCode: number;
  /** Instances the cache did not hold. */
  added: number;
  /** Instances whose state, run count or end changed. */
  updated: number;
  /** DolphinScheduler requests this definition's sync made. */
  requests: number;
  error?: SyncError;
}

export interface TargetSyncResult {
  tenantId: string;
  target: string;
  definitions: DefinitionSyncResult[];
  /** The target could not be used at all (missing, its token secret missing). */
  error?: SyncError;
}

export interface HistorySyncResult {
  targets: TargetSyncResult[];
}

export interface HistoryActivities {
  /** The (tenant, target) pairs with published definitions in scope. */
  listHistoryTargets(scope: HistorySyncScope): Promise<HistoryTargetGroup[]>;
  /** Syncs every published definition of the group; DolphinScheduler failures are recorded, not thrown. */
  syncTargetHistory(group: HistoryTargetGroup): Promise<TargetSyncResult>;
}

export interface InspectionScope {
  tenantId?: string;
}

/** What one tenant's inspection changed in its findings. */
export interface TenantInspectionResult {
  tenantId: string;
  opened: number;
  changed: number;
  resolved: number;
  /** Open findings whose current state was not alerted yet. */
  toAlert: string[];
  /** Rules that could not be evaluated for a target (it was down): their findings are kept as they were. */
  skipped: { rule: string; target: string; error: string }[];
}

export interface InspectionsResult {
  tenants: TenantInspectionResult[];
  alerted: number;
  alertFailures: number;
}

export interface InspectionActivities {
  listInspectionTenants(scope: InspectionScope): Promise<string[]>;
  inspectTenant(tenantId: string): Promise<TenantInspectionResult>;
  /** Sends one finding's alert unless its current state was already alerted; answers whether it sent. */
  alertFinding(findingId: string): Promise<boolean>;
}

/** Workflow ids: a refresh or an on-demand run joins one already running for the same scope. */
export function historySyncWorkflowId(scope: HistorySyncScope): string {
  return ['history-sync', scope.tenantId ?? 'all', scope.templateId ?? 'all', scope.target ?? 'all'].join(':');
}

export function inspectionsWorkflowId(scope: InspectionScope): string {
  return `inspections:${scope.tenantId ?? 'all'}`;
}
