import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Keyring } from '../../apps/common/crypto/keyring';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { approveUpdate, stateQuery } from '../../workflows/contract';
import type { BenchEnvironment } from '../environment';
import { postJson } from '../http';
import { historyEventCounts, runInput, startEngineRun } from '../runs';
import { approvalThenNoopSpec } from '../specs';
import { percentile, round } from '../stats';

export interface NoticesResult {
  /** From the approval step starting to wait (its state's startedAt) to its notice reaching a local webhook receiver. */
  approvalNotice: { p50Ms: number; p99Ms: number; maxMs: number; samples: number };
  /** History events of an approval run (approved, then one step): as before notifications, through the API without subscriptions, with a subscription. */
  historyEvents: { before: number; withoutSubscriptions: number; withSubscription: number };
}

/**
 * Notices: how soon an approval's notice reaches its receiver, and what notifications cost the
 * history of runs that have none. The API decides a run's notices from its tenant's subscriptions
 * (a tenant of its own here), the worker delivers through a webhook channel to a receiver in this
 * process; the clocks are this machine's (the workflow's time is the server's, on this machine).
 */
export async function measureNotices(env: BenchEnvironment, samples: number): Promise<NoticesResult> {
  const taskQueue = `bench-notices-${randomUUID()}`;
  const secrets = new SecretStore(env.prisma, Keyring.parse(Keyring.generateEntry('bench'), 'SECRETS_KEYS'));
  await env.startWorker(taskQueue, { secrets, prisma: env.prisma, notifications: { publicBaseUrl: 'http://127.0.0.1:3000' } });
  const api = await env.startApi(taskQueue, { secrets });
  const admin = { authorization: `Bearer ${await api.tokenFor('admin', ['admin'])}` };

  const arrivals = new Map<string, number>();
  const waiters = new Map<string, () => void>();
  const receiver = await listen((runId) => {
    arrivals.set(runId, Date.now());
    waiters.get(runId)?.();
  });
  try {
    const created = async (path: string, body: unknown) => {
      const answer = await postJson(`${api.url}${path}`, body, admin);
      if (answer.status !== 201) throw new Error(`${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
      return answer.body as { id: string };
    };
    const spec = approvalThenNoopSpec('bob');
    const subscribed = await created('/api/v1/templates', { name: `notices-${randomUUID()}`, spec });
    const unsubscribed = await created('/api/v1/templates', { name: `quiet-${randomUUID()}`, spec });
    const channel = await created('/api/v1/channels', { name: 'bench', kind: 'webhook', secrets: { url: receiver.url, signingKey: 'bench-signing-key' } });
    const put = await fetch(`${api.url}/api/v1/subscriptions/${subscribed.id}`, {
      method: 'PUT',
      headers: { ...admin, 'content-type': 'application/json' },
      body: JSON.stringify({ routes: { approval_requested: [channel.id] } }),
    });
    if (put.status !== 201) throw new Error(`subscribing answered ${put.status}`);

    const startRun = async (templateId: string) => (await created('/api/v1/runs', { templateId }).then((run) => run as unknown as { runId: string })).runId;
    const latencies: number[] = [];
    for (let i = 0; i < samples + 2; i++) {
      const runId = await startRun(subscribed.id);
      await new Promise<void>((resolve) => (arrivals.has(runId) ? resolve() : waiters.set(runId, resolve)));
      const handle = env.client.workflow.getHandle(runId);
      const state = await handle.query(stateQuery);
      const waitingSince = Date.parse(state.steps.approve!.startedAt!);
      if (i >= 2) latencies.push(arrivals.get(runId)! - waitingSince); // the first two warm up
      await handle.terminate('benchmark sample taken');
    }

    const approved = async (runId: string) => {
      const handle = env.client.workflow.getHandle(runId);
      while ((await handle.query(stateQuery)).status !== 'waiting_approval') await new Promise((r) => setTimeout(r, 20));
      await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'approve', actor: { subject: 'bob', roles: [] } }] });
      await handle.result();
      return (await historyEventCounts(env, runId))[0]!;
    };
    const before = await approved((await startEngineRun(env, runInput(spec), taskQueue, api.tenantId)).workflowId);
    const withoutSubscriptions = await approved(await startRun(unsubscribed.id));
    const withSubscription = await approved(await startRun(subscribed.id));
    return {
      approvalNotice: { p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)), maxMs: round(Math.max(...latencies)), samples },
      historyEvents: { before, withoutSubscriptions, withSubscription },
    };
  } finally {
    await receiver.close();
  }
}

/** A webhook receiver that reports each notice's run as it arrives and answers at once. */
async function listen(arrived: (runId: string) => void): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      arrived((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data: { run: { id: string } } }).data.run.id);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
