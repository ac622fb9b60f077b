import type { Spec } from '../spec/schema';

/**
 * What the workflow and the activities agree on. A step activity is registered under its step type's
 * name and takes the step's rendered, validated `with`; the activity id names the step.
 */

export interface StepActivityResult {
  /** The step's output, or `{ truncated: true, bytes }` when its JSON exceeded MAX_STEP_OUTPUT_BYTES. */
  output: unknown;
  /** The Temporal attempt that succeeded, so the run state can show how many it took. */
  attempt: number;
}

/**
 * What a step activity learns of its run beside the step's `with`: the run's tenant, and where
 * `with` holds `{{ secrets.NAME }}` references for the activity to substitute (paths into `with`,
 * found in the spec itself, never in rendered data: see workflows/spec/secret-references.ts).
 * Absent for runs started before tenants existed, which reference no secrets.
 */
export interface StepRunContext {
  tenantId?: string;
  secretPaths?: (string | number)[][];
}

export type StepActivity = (params: unknown, run?: StepRunContext) => Promise<StepActivityResult>;

/** What a `template` step asks for before it starts its child run (activities/template-runs.ts). */
export interface ChildTemplateRequest {
  /** The parent run's tenant: a version of another tenant's template is not found. */
  tenantId?: string;
  versionId: string;
  /** The child's inputs as rendered: checked against the pinned version's `inputs` schema. */
  inputs: Record<string, unknown>;
}

/** The pinned version a child run runs. */
export interface ChildTemplate {
  templateId: string;
  templateName: string;
  templateVersion: number;
  spec: Spec;
}

export interface TemplateActivities {
  loadChildTemplate(request: ChildTemplateRequest): Promise<ChildTemplate>;
}

/** Failure types of loadChildTemplate that no retry can change. */
export const ChildTemplateFailure = {
  NotFound: 'TemplateVersionNotFound',
  InvalidInputs: 'InvalidStepInput',
  Unavailable: 'TemplatesUnavailable',
} as const;

export interface NotifyApproversInput {
  stepId: string;
  templateName: string;
  templateVersion: number;
  startedBy: string;
  users: string[];
  roles: string[];
  required: number;
  message?: string;
  deadline?: string;
}

export interface ApprovalActivities {
  notifyApprovers(input: NotifyApproversInput): Promise<void>;
}

/** The step id in an activity id: `deploy` and `deploy#2` (an operator re-run) both belong to step `deploy`. */
export function stepIdOfActivity(activityId: string): string {
  const hash = activityId.indexOf('#');
  return hash === -1 ? activityId : activityId.slice(0, hash);
}
