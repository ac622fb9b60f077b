import { z } from 'zod';
import { DurationSchema } from './duration';

/**
 * The `with` schema of every step type. The API validates specs against these and the workflow
 * validates each step's rendered `with` against the same schema before running it.
 * Adding a step type: its `with` schema here, and its activity in `activities/steps/`.
 */

const HttpMethod = z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD']);

export const HttpWithSchema = z
  .object({
    method: HttpMethod.default('GET'),
    url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }),
    headers: z.record(z.string(), z.string()).default({}),
    body: z.unknown().optional(),
    /** Statuses that count as success; any 2xx when omitted. */
    expectedStatuses: z.array(z.number().int().min(100).max(599)).min(1).optional(),
    /** 4xx statuses that should be retried rather than fail the step at once (e.g. 409, 429). */
    retryableStatuses: z.array(z.number().int().min(400).max(499)).default([429]),
    timeout: DurationSchema.default('30s'),
  })
  .strict();

export const ApprovalWithSchema = z
  .object({
    approvers: z
      .object({
        users: z.array(z.string().min(1)).default([]),
        roles: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .refine((a) => a.users.length + a.roles.length > 0, { message: 'name at least one user or role' }),
    required: z.number().int().min(1).max(100).default(1),
    timeout: DurationSchema.optional(),
    onTimeout: z.enum(['reject', 'approve', 'fail']).default('fail'),
    requireRejectReason: z.boolean().default(false),
    /** Whether the run's starter may approve it; off unless the template says so (four eyes). */
    allowSelfApproval: z.boolean().default(false),
    message: z.string().max(2000).optional(),
  })
  .strict()
  .refine((a) => a.approvers.roles.length > 0 || a.required <= a.approvers.users.length, {
    message: 'required approvals exceed the number of named approvers',
    path: ['required'],
  });

export const DelayWithSchema = z.object({ duration: DurationSchema }).strict();

export const NoopWithSchema = z.object({ output: z.unknown().optional() }).strict();

/** DolphinScheduler's form posts cap a whole definition at about 5 MB; one script stays well inside. */
export const MAX_SHELL_SCRIPT_CHARS = 64 * 1024;

/**
 * A shell script, for templates published to DolphinScheduler, whose workers run it as a SHELL
 * task. flowpilot's own worker never runs arbitrary shell: starting a run of a version with a shell
 * step is refused (422), and the worker's `shell` activity fails without retrying if one slips through.
 */
export const ShellWithSchema = z
  .object({
    script: z.string().min(1).max(MAX_SHELL_SCRIPT_CHARS),
  })
  .strict();


/**
 * Which template version a `template` step runs: another template of the same tenant, by name, at
 * `version` or (without it) at its latest version when this spec's version is created. The API pins
 * it then, filling in `version` and `versionId`; a run uses `versionId` and nothing else.
 */
export const TemplateReferenceSchema = z
  .object({
    name: z.string().min(1).max(200),
    version: z.number().int().min(1).optional(),
    /** Set by the API when the version holding this step is created; a value given by a user is replaced. */
    versionId: z.string().optional(),
  })
  .strict();

export const TemplateWithSchema = z
  .object({
    template: TemplateReferenceSchema,
    /** The child run's inputs; may hold expressions. The child's `inputs` schema checks them when it starts. */
    inputs: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

/** How the workflow executes a step type: as an activity, a durable timer, a human decision, or a child run. */
export type StepKind = 'activity' | 'timer' | 'approval' | 'child';

/** Where a step type can run: anywhere, or only on a scheduler a template is published to. */
export type StepPlacement = 'anywhere' | 'published-only';

export interface StepTypeDefinition {
  readonly kind: StepKind;
  readonly withSchema: z.ZodType;
  readonly description: string;
  readonly placement: StepPlacement;
}

export const stepTypes = {
  http: { kind: 'activity', placement: 'anywhere', withSchema: HttpWithSchema, description: 'Calls an HTTP endpoint and captures its JSON answer' },
  noop: { kind: 'activity', placement: 'anywhere', withSchema: NoopWithSchema, description: 'Does nothing; returns `with.output`' },
  delay: { kind: 'timer', placement: 'anywhere', withSchema: DelayWithSchema, description: 'Waits on a durable timer' },
  approval: { kind: 'approval', placement: 'anywhere', withSchema: ApprovalWithSchema, description: 'Waits for human approvals' },
  shell: {
    kind: 'activity',
    placement: 'published-only',
    withSchema: ShellWithSchema,
    description: 'Runs a shell script on a DolphinScheduler worker once published; flowpilot itself never runs it',
  },
  template: {
    kind: 'child',
    placement: 'anywhere',
    withSchema: TemplateWithSchema,
    description: "Runs a pinned version of another of the tenant's templates as a child run",
  },
} as const satisfies Record<string, StepTypeDefinition>;

export type StepType = keyof typeof stepTypes;
/** Step types the worker runs as activities: each needs one in activities/index.ts (a compile error otherwise). */
export type ActivityStepType = { [T in StepType]: (typeof stepTypes)[T]['kind'] extends 'activity' ? T : never }[StepType];

/** The steps of a spec that flowpilot's worker does not run (shell): a run of it is refused at start. */
export function publishedOnlySteps(steps: readonly { id: string; type: StepType }[]): { id: string; type: StepType }[] {
  return steps.filter((step) => stepTypes[step.type].placement === 'published-only');
}
export const stepTypeNames = Object.keys(stepTypes) as [StepType, ...StepType[]];

export type HttpWith = z.output<typeof HttpWithSchema>;
export type ApprovalWith = z.output<typeof ApprovalWithSchema>;
export type DelayWith = z.output<typeof DelayWithSchema>;
export type NoopWith = z.output<typeof NoopWithSchema>;
export type ShellWith = z.output<typeof ShellWithSchema>;
export type TemplateWith = z.output<typeof TemplateWithSchema>;
export type TemplateReference = z.output<typeof TemplateReferenceSchema>;
