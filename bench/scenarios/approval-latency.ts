import { randomUUID } from 'node:crypto';
import type { WorkflowHandle } from '@temporalio/client';
import { stateQuery } from '../../workflows/contract';
import type { BenchEnvironment } from '../environment';
import { postJson } from '../http';
import { runInput, startEngineRun } from '../runs';
import { approvalThenNoopSpec } from '../specs';
import { percentile, round } from '../stats';

export interface ApprovalLatencyResult {
  /** From the approve call's answer to the next step's activity being scheduled. */
  fromAnswer: { p50Ms: number; p99Ms: number };
  /** From sending the approve call to the next step's activity being scheduled. */
  fromRequest: { p50Ms: number; p99Ms: number };
  /** The approve call's own round trip. */
  approveCall: { p50Ms: number; p99Ms: number };
  samples: number;
}

/** Event times are the server's clock; the server runs on this machine, so one clock serves both. */
export async function measureApprovalLatency(env: BenchEnvironment, taskQueue: string, samples: number): Promise<ApprovalLatencyResult> {
  const api = await env.startApi(taskQueue);
  const approverToken = await api.tokenFor('approver', ['approver']);
  const input = runInput(approvalThenNoopSpec('approver'), 'bench');
  const fromAnswer: number[] = [];
  const fromRequest: number[] = [];
  const calls: number[] = [];
  for (let i = 0; i < samples + 2; i++) {
    const handle = await startEngineRun(env, input, taskQueue, api.tenantId);
    await waitForApproval(handle);
    const sent = Date.now();
    const answer = await postJson(`${api.url}/api/v1/runs/${handle.workflowId}/steps/approve/approve`, {}, {
      authorization: `Bearer ${approverToken}`,
      'idempotency-key': randomUUID(),
    });
    const answered = Date.now();
    if (answer.status !== 200) throw new Error(`approve answered ${answer.status}: ${JSON.stringify(answer.body)}`);
    await handle.result();
    const scheduledAt = await nextStepScheduledAt(handle);
    if (i < 2) continue; // warm-up
    fromAnswer.push(scheduledAt - answered);
    fromRequest.push(scheduledAt - sent);
    calls.push(answered - sent);
  }
  const summary = (xs: number[]) => ({ p50Ms: round(percentile(xs, 50)), p99Ms: round(percentile(xs, 99)) });
  return { fromAnswer: summary(fromAnswer), fromRequest: summary(fromRequest), approveCall: summary(calls), samples };
}

async function waitForApproval(handle: WorkflowHandle): Promise<void> {
  for (;;) {
    const state = await handle.query(stateQuery);
    if (state.steps.approve?.status === 'waiting_approval') return;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function nextStepScheduledAt(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  const scheduled = history.events?.find((e) => e.activityTaskScheduledEventAttributes?.activityId === 'next');
  const time = scheduled?.eventTime;
  if (!time) throw new Error(`no scheduled event for step "next" in ${handle.workflowId}`);
  return Number(time.seconds) * 1000 + Math.floor((time.nanos ?? 0) / 1e6);
}
