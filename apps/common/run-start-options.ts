import type { WorkflowStartOptions } from '@temporalio/client';
import type { RunInput } from '../../workflows/contract';
import { RunStatusKey, StartedByKey, TemplateIdKey, TemplateVersionKey, TenantIdKey } from '../../workflows/search-attributes';

/** Temporal caps a static summary at 200 bytes. */
const MAX_SUMMARY_BYTES = 200;

export type RunStartOptions = WorkflowStartOptions<(input: RunInput) => Promise<unknown>> & {
  workflowId: string;
  taskQueue: string;
};

/**
 * How every run is started (by the API and by tests alike): the search attributes that make it
 * findable, a memo, and a summary and details for the Temporal UI. Pure: no I/O, no clock.
 * Runs the API starts always name their tenant; tests of the engine alone may start runs of none.
 */
export function runStartOptions(input: RunInput, ids: { workflowId: string; taskQueue: string; tenantId?: string }): RunStartOptions {
  return {
    args: [input],
    workflowId: ids.workflowId,
    taskQueue: ids.taskQueue,
    typedSearchAttributes: [
      { key: TemplateIdKey, value: input.templateId },
      { key: TemplateVersionKey, value: input.templateVersion },
      { key: RunStatusKey, value: 'running' },
      { key: StartedByKey, value: input.startedBy },
      ...(ids.tenantId ? [{ key: TenantIdKey, value: ids.tenantId }] : []),
    ],
    memo: { templateName: input.templateName, templateVersion: input.templateVersion, startedBy: input.startedBy },
    staticSummary: truncateUtf8(`${input.templateName} v${input.templateVersion} by ${input.startedBy}`, MAX_SUMMARY_BYTES),
    staticDetails: runDetails(input),
  };
}

function runDetails(input: RunInput): string {
  const lines = input.spec.steps.map((step) => {
    const after = step.dependsOn.length > 0 ? ` after ${step.dependsOn.map((id) => `\`${id}\``).join(', ')}` : '';
    const name = step.name ? ` ${step.name}` : '';
    return `- \`${step.id}\` (${step.type})${name}${after}`;
  });
  return [`**${input.templateName}** v${input.templateVersion}, started by ${input.startedBy}`, '', '**Steps**', ...lines].join('\n');
}

function truncateUtf8(text: string, maxBytes: number): string {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length <= maxBytes) return text;
  // Cut on a character boundary, keeping room for the ellipsis (3 bytes).
  let cut = maxBytes - 3;
  while (cut > 0 && (bytes[cut]! & 0xc0) === 0x80) cut--;
  return `${new TextDecoder().decode(bytes.subarray(0, cut))}…`;
}
