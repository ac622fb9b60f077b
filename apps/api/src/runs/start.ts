import { createHash, randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { LRUCache } from 'lru-cache';
import stableStringify from 'safe-stable-stringify';
import { RUN_WORKFLOW_TYPE, type RunInput } from '../../../../workflows/contract';
import { SpecSchema, type Spec } from '../../../../workflows/spec/schema';
import { publishedOnlySteps } from '../../../../workflows/spec/step-types';
import { runStartOptions } from '../../../common/run-start-options';
import type { ApiDependencies } from '../dependencies';
import { problems } from '../http/problem';
import type { Principal } from '../http/principal';
import type { TemplateHeads } from '../templates/template-heads';
import { InputValidators } from '../../../common/inputs/input-validation';
import { describeRun, rememberRunTenant } from './run-handle';
import { runSummaryOf } from './list';
import type { StartRunBody, StartRunResponse } from './schemas';

/**
 * Starting a run: pin a template version, check the inputs against its schema, start the workflow.
 * The run id is the workflow id. With an Idempotency-Key the id is derived from caller and key,
 * so Temporal itself refuses a second start and the stored request hash tells a retry of the
 * same request (same run) from a reuse of the key for another one (409).
 */

export interface StartedRun {
  created: boolean;
  run: StartRunResponse;
}

interface PinnedVersion {
  versionId: string;
  templateId: string;
  templateName: string;
  number: number;
  spec: Spec;
  /** The spec's size as JSON, measured once per process. */
  specBytes: number;
}

/** RUN_INPUT_MAX_BYTES's default: the largest run `input`, as JSON bytes. */
export const DEFAULT_RUN_INPUT_MAX_BYTES = 256 * 1024;

/**
 * What one start may hand the workflow in all (spec, inputs and the rest of RunInput, as JSON):
 * Temporal refuses a payload over 2 MiB, and the memo, search attributes and headers travel beside it.
 * A spec may hold 1 MiB, so with a raised RUN_INPUT_MAX_BYTES the sum is checked at each start.
 */
export const MAX_START_PAYLOAD_BYTES = 2 * 1024 * 1024 - 128 * 1024;

/** Versions are immutable, so a parsed one stays right forever; the bound only keeps memory flat. */
const MAX_CACHED_VERSIONS = 500;

interface LoadedVersion {
  versionId: string;
  spec: Spec;
  specBytes: number;
}

export class RunStarter {
  private readonly inputValidators = new InputValidators();
  private readonly versions = new LRUCache<string, LoadedVersion>({ max: MAX_CACHED_VERSIONS });

  constructor(
    private readonly deps: ApiDependencies,
    private readonly templateHeads: TemplateHeads,
  ) {}

  async start(principal: Principal, body: StartRunBody, idempotencyKey: string | undefined): Promise<StartedRun> {
    const inputBytes = Buffer.byteLength(JSON.stringify(body.input ?? null));
    const inputLimit = this.deps.runInputMaxBytes ?? DEFAULT_RUN_INPUT_MAX_BYTES;
    if (inputBytes > inputLimit) {
      throw problems.payloadTooLarge(`input is ${inputBytes} bytes as JSON; a run's input may be at most ${inputLimit} bytes (RUN_INPUT_MAX_BYTES)`);
    }
    const version = await this.pinVersion(principal.tenantId, body.templateId, body.version);
    refuseStepsNotRunHere(version);
    // Spec and input travel together in the workflow's input; the rest of RunInput is small and bounded.
    if (version.specBytes + inputBytes + 4096 > MAX_START_PAYLOAD_BYTES) {
      throw problems.payloadTooLarge(
        `the start would hand the workflow ${version.specBytes} bytes of spec and ${inputBytes} bytes of input; together they must stay under ${MAX_START_PAYLOAD_BYTES} bytes (Temporal's payload limit)`,
      );
    }
    const invalidParams = this.inputValidators.check(version.versionId, version.spec.inputs, body.input);
    if (invalidParams.length > 0) {
      throw problems.unprocessable(`input does not match the input schema of version ${version.number}`, invalidParams);
    }

    const runInput: RunInput = {
      templateId: version.templateId,
      templateName: version.templateName,
      templateVersion: version.number,
      spec: version.spec,
      inputs: body.input,
      startedBy: principal.subject,
      tenantId: principal.tenantId,
      ...(this.deps.runLimits ? { limits: this.deps.runLimits } : {}),
    };
    const workflowId = idempotencyKey ? idempotentRunId(principal, idempotencyKey) : `run-${randomUUID()}`;
    const requestHash = requestHashOf(body);
    const options = runStartOptions(runInput, { workflowId, taskQueue: this.deps.taskQueue, tenantId: principal.tenantId });
    try {
      await this.deps.temporal.workflow.start(RUN_WORKFLOW_TYPE, {
        ...options,
        memo: { ...options.memo, requestHash },
        // A keyed id must never start twice, not even after the first run has finished.
        ...(idempotencyKey ? { workflowIdConflictPolicy: 'FAIL', workflowIdReusePolicy: 'REJECT_DUPLICATE' } : {}),
      });
    } catch (error) {
      if (idempotencyKey && error instanceof WorkflowExecutionAlreadyStartedError) {
        const run = await this.existingRun(workflowId, principal.tenantId, requestHash);
        this.deps.logger.info({ runId: workflowId, startedBy: principal.subject }, 'run start repeated with its Idempotency-Key');
        return { created: false, run };
      }
      throw error;
    }
    rememberRunTenant(workflowId, principal.tenantId);
    this.deps.logger.info(
      { runId: workflowId, templateId: version.templateId, version: version.number, startedBy: principal.subject },
      'run started',
    );
    return {
      created: true,
      run: { runId: workflowId, workflowId, templateId: version.templateId, version: version.number, status: 'running', links: runLinks(workflowId) },
    };
  }

  private async pinVersion(tenantId: string, templateId: string, requested: number | undefined): Promise<PinnedVersion> {
    const template = await this.templateHeads.get(templateId);
    if (!template || template.tenantId !== tenantId) throw problems.notFound(`template ${templateId} does not exist`);
    if (template.archived) throw problems.conflict(`template ${template.name} is archived and cannot be run`);
    const number = requested ?? template.latestVersion;
    const version = await this.loadVersion(templateId, number);
    if (!version) throw problems.notFound(`template ${template.name} has no version ${number}`);
    return { ...version, templateId, templateName: template.name, number };
  }

  /** The version's parsed spec, read once per process. */
  private async loadVersion(templateId: string, number: number): Promise<LoadedVersion | undefined> {
    const key = `${templateId}:${number}`;
    const cached = this.versions.get(key);
    if (cached) return cached;
    const row = await this.deps.prisma.templateVersion.findUnique({
      where: { templateId_number: { templateId, number } },
      select: { id: true, spec: true },
    });
    if (!row) return undefined;
    // Stored specs were parsed on the way in; parsing again restores the types and guards against drift.
    const spec = SpecSchema.parse(row.spec);
    const version = { versionId: row.id, spec, specBytes: Buffer.byteLength(JSON.stringify(spec)) };
    this.versions.set(key, version);
    return version;
  }

  private async existingRun(workflowId: string, tenantId: string, requestHash: string): Promise<StartRunResponse> {
    const { description } = await describeRun(this.deps, workflowId, tenantId);
    if (description.memo?.requestHash !== requestHash) {
      throw problems.conflict('this Idempotency-Key was already used for a different request', { runId: workflowId });
    }
    const summary = runSummaryOf(description);
    return {
      runId: workflowId,
      workflowId,
      templateId: summary.templateId ?? '',
      version: summary.version ?? 0,
      status: summary.status,
      links: runLinks(workflowId),
    };
  }
}

/**
 * flowpilot's worker never runs arbitrary shell: a version with a shell step is for publishing to
 * DolphinScheduler, and a run of it is refused before anything starts, naming every such step.
 */
function refuseStepsNotRunHere(version: PinnedVersion): void {
  const steps = publishedOnlySteps(version.spec.steps);
  if (steps.length === 0) return;
  throw problems.unprocessable(
    `version ${version.number} of ${version.templateName} has steps flowpilot does not run (${steps.map((s) => `${s.id}: ${s.type}`).join(', ')}); publish it to a DolphinScheduler target instead`,
    steps.map((step) => ({
      path: ['spec', 'steps', version.spec.steps.findIndex((s) => s.id === step.id), 'type'],
      message: `step ${step.id} is a ${step.type} step, which runs only on DolphinScheduler once published`,
    })),
  );
}

export function runLinks(runId: string): StartRunResponse['links'] {
  const self = `/api/v1/runs/${runId}`;
  return { self, events: `${self}/events`, cancel: `${self}/cancel` };
}

/** The key is the caller's: two callers (of one tenant or of two) using the same key get two runs. */
function idempotentRunId(principal: Principal, key: string): string {
  return `run-${createHash('sha256').update(`${principal.tenantId}\n${principal.subject}\n${key}`).digest('hex').slice(0, 32)}`;
}

/** The request as sent (an omitted version stays omitted): a retry must repeat it exactly. */
function requestHashOf(body: StartRunBody): string {
  const canonical = stableStringify({ templateId: body.templateId, version: body.version ?? null, input: body.input });
  return createHash('sha256').update(canonical ?? '').digest('hex');
}
