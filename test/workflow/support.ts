import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowFailedError, type Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { stateQuery, type RunInput, type RunState } from '../../workflows/contract';
import { SpecSchema, type SpecInput } from '../../workflows/spec/schema';
import { runStartOptions } from '../../apps/common/run-start-options';
import type { runTemplate } from '../../workflows/run-template';

export type RunHandle = WorkflowHandleWithFirstExecutionRunId<typeof runTemplate>;

export const starter = { subject: 'alice', roles: ['dev'] };

export function runInput(spec: SpecInput, extra: Partial<RunInput> = {}): RunInput {
  return {
    templateId: 'tpl-1',
    templateName: 'test template',
    templateVersion: 1,
    spec: SpecSchema.parse(spec),
    inputs: {},
    startedBy: starter.subject,
    ...extra,
  };
}

/** Starts a run as the API would, without it; with a tenant, the API shows the run to that tenant. */
export function startRun(client: Client, taskQueue: string, input: RunInput, tenantId?: string): Promise<RunHandle> {
  const options = runStartOptions(input, { workflowId: `run-${randomUUID()}`, taskQueue, ...(tenantId ? { tenantId } : {}) });
  return client.workflow.start('runTemplate', options) as Promise<RunHandle>;
}

/** The final state a failed or timed-out run carries in its failure's details. */
export function failedRunState(error: unknown): RunState {
  if (!(error instanceof WorkflowFailedError)) throw new Error(`expected the run to fail, got ${String(error)}`);
  return (error.cause as unknown as { details: RunState[] }).details[0]!;
}

/** The failure type a failed run ended with (RunFailed, RunTimedOut). */
export function failureType(error: unknown): string | undefined {
  return error instanceof WorkflowFailedError ? (error.cause as unknown as { type?: string }).type : undefined;
}

/** Polls the run's state until `predicate` holds; fails with the last state seen. */
export async function waitForState(handle: RunHandle, predicate: (state: RunState) => boolean, timeoutMs = 20_000): Promise<RunState> {
  const deadline = Date.now() + timeoutMs;
  let state: RunState | undefined;
  while (Date.now() < deadline) {
    state = await handle.query(stateQuery);
    if (predicate(state)) return state;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`state never matched; last: ${JSON.stringify(state, null, 2)}`);
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  /** Set when the client went away before the answer was sent. */
  aborted: boolean;
}

export type Route = (request: RecordedRequest, response: ServerResponse, hits: number) => void;

/** A local HTTP server whose routes the test defines; it records every request and whether it was aborted. */
export async function startHttpServer(routes: Record<string, Route>) {
  const requests: RecordedRequest[] = [];
  const hits = new Map<string, number>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const recorded: RecordedRequest = { method: req.method ?? 'GET', path, headers: req.headers, body, aborted: false };
      requests.push(recorded);
      res.on('close', () => {
        if (!res.writableFinished) recorded.aborted = true;
      });
      const count = (hits.get(path) ?? 0) + 1;
      hits.set(path, count);
      const route = routes[path];
      if (route) route(recorded, res, count);
      else res.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function json(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/** A route that never answers: the request stays open until the client aborts it. */
export const hang: Route = () => undefined;
