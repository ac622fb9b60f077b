/**
 * Regenerates the histories in test/replay/histories/ from representative runs of the current
 * workflow code. Run it when a change to the workflow is meant to be visible in new histories, and
 * commit the JSON: replay.test.ts keeps replaying the recorded ones, so a change that would break
 * runs already in flight fails the build (guard such changes with `patched()`, then re-record).
 *
 *   npx tsx test/replay/record.ts                 # all recordings; starts its own Temporal dev server and PostgreSQL
 *   npx tsx test/replay/record.ts approval retry  # only these
 *   TEMPORAL_ADDRESS=… npx tsx test/replay/record.ts
 *
 * Histories of older workflow code that no recording makes any more stay in histories/ under a
 * name saying what they keep (approvalAnsweredAtOnce.json: before decisions answered with the
 * settled step; templatesEvaluatedByJsonata.json: two steps whose templates JSONata evaluated,
 * scheduled in the order its promises settled; inspectionsAlertsOneByOne.json: an inspection that
 * alerted its findings one after the other), and are replayed like the others.
 *
 * sendNotice.json and sendPublishNotice.json (a notice's and a publish notice's own delivery) use a
 * database of their own, which this script starts too.
 *
 * publishQueue.json (the publish workflow: an approved publish, a failed one, an offline) needs
 * the database and a DolphinScheduler, so test/publishing/publish-fake.test.ts records it:
 *   RECORD_HISTORIES=1 npx jest test/publishing/publish-fake.test.ts -t replays
 * historySync.json and inspections.json (the history sync with a target down; an inspection that
 * alerted) likewise, from the history and inspection tests against the fake:
 *   RECORD_HISTORIES=1 npx jest test/history
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PrismaClient } from '@prisma/client';
import { Connection, type Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { Keyring } from '../../apps/common/crypto/keyring';
import { createPrismaClient } from '../../apps/common/database';
import { channelSecretName } from '../../apps/common/notifications/channels';
import { SecretStore } from '../../apps/common/secrets/secret-store';
import { startEmbeddedPostgres } from '../../scripts/lib/embedded-postgres';
import { migrateDatabase } from '../../scripts/lib/migrate';
import type { Notice } from '../../workflows/notifications/notice';
import { sendNotice } from '../../workflows/notifications/send-notice';
import type { PublishNotice } from '../../workflows/notifications/publish-notice';
import { sendPublishNotice } from '../../workflows/notifications/send-publish-notice';
import { ensureSearchAttributes } from '../../apps/common/temporal';
import { freePort } from '../../scripts/lib/free-port';
import { startTemporalDevServer } from '../../scripts/lib/temporal-dev-server';
import {
  approveUpdate,
  pauseUpdate,
  rejectUpdate,
  resumeUpdate,
  retryStepUpdate,
  skipStepUpdate,
  type ApprovalCommand,
  type ControlCommand,
} from '../../workflows/contract';
import { SpecSchema, type SpecInput } from '../../workflows/spec/schema';
import type { RunInput, SubscribableKind } from '../../workflows/contract';
import { runStartOptions } from '../../apps/common/run-start-options';
import type { TemplateVersionReader } from '../../activities/template-runs';
import { startTestWorker } from '../support/worker';
import { toHistoryFile } from './history-file';
import { forEachBatchId } from '../../workflows/engine/for-each';
import { hang, json, runInput, startHttpServer, startRun, waitForState, type RunHandle } from '../workflow/support';

const historiesDir = join(__dirname, 'histories');

/** The one template version the templateStep recording's child run loads. */
const DOUBLER = {
  tenantId: '00000000-0000-4000-8000-00000000000a',
  versionId: '00000000-0000-4000-8000-000000000001',
  template: {
    templateId: '00000000-0000-4000-8000-000000000002',
    templateName: 'doubler',
    templateVersion: 1,
    spec: SpecSchema.parse({ steps: [{ id: 'double', type: 'noop', with: { output: '{{ inputs.n * 2 }}' } }] }),
  },
};
const recordedTemplates: TemplateVersionReader = {
  find: async (tenantId, versionId) => (tenantId === DOUBLER.tenantId && versionId === DOUBLER.versionId ? DOUBLER.template : undefined),
};
const operator = { subject: 'olga', roles: ['ops'] };
/** The tenant runs with notices belong to (the API always names one). */
const NOTICE_TENANT = '00000000-0000-4000-8000-000000000001';

/** A recording answers the run it made, and any child workflows whose histories it keeps too (saved as `<name>-<child>.json`). */
type Recording = (
  client: Client,
  taskQueue: string,
  url: (path: string) => string,
) => Promise<WorkflowHandleWithFirstExecutionRunId | { handle: WorkflowHandleWithFirstExecutionRunId; children: Record<string, string> }>;

const recordings: Record<string, Recording> = {
  approval: (client, taskQueue) =>
    decidedApproval(
      client,
      taskQueue,
      [
        { id: 'approve', type: 'approval', with: { approvers: { users: ['bob', 'carol'] }, required: 2, timeout: '1h' } },
        { id: 'deploy', type: 'noop', dependsOn: ['approve'], with: { output: '{{ steps.approve.output.approvedBy }}' } },
      ],
      [
        [approveUpdate, { stepId: 'approve', actor: { subject: 'bob', roles: [] } }],
        [approveUpdate, { stepId: 'approve', actor: { subject: 'carol', roles: [] } }],
      ],
    ),

  rejection: (client, taskQueue) =>
    decidedApproval(
      client,
      taskQueue,
      [
        { id: 'approve', type: 'approval', with: { approvers: { users: ['bob'] } }, onError: 'continue' },
        { id: 'tidy', type: 'noop' },
      ],
      [[rejectUpdate, { stepId: 'approve', actor: { subject: 'bob', roles: [] }, comment: 'not now' }]],
    ),

  async retry(client, taskQueue, url) {
    const handle = await startRun(
      client,
      taskQueue,
      runInput({
        steps: [
          { id: 'call', type: 'http', with: { url: url('/flaky') }, retry: { maxAttempts: 3, initialInterval: '100ms' } },
          { id: 'held', type: 'http', with: { url: url('/once') }, dependsOn: ['call'], onError: 'pause' },
          { id: 'after', type: 'noop', dependsOn: ['held'] },
        ],
      }),
    );
    await waitForState(handle, (state) => state.status === 'held');
    await handle.executeUpdate(retryStepUpdate, { args: [{ stepId: 'held', actor: operator }] });
    await handle.result();
    return handle;
  },

  async groupCancel(client, taskQueue, url) {
    const handle = await startRun(
      client,
      taskQueue,
      runInput({
        steps: [
          { id: 'slow', type: 'http', with: { url: url('/slow'), timeout: '1m' } },
          { id: 'failing', type: 'http', with: { url: url('/bad') }, onError: 'continue' },
          { id: 'fast', type: 'noop' },
          { id: 'hanging', type: 'http', with: { url: url('/slow'), timeout: '1m' } },
          { id: 'after', type: 'noop', dependsOn: ['race'] },
        ],
        groups: [
          { id: 'checks', steps: ['slow', 'failing'], join: 'failFast' },
          { id: 'race', steps: ['fast', 'hanging'], join: 'any' },
        ],
      }),
    );
    await handle.result();
    return handle;
  },

  async pauseResume(client, taskQueue) {
    const handle = await startRun(
      client,
      taskQueue,
      runInput({
        steps: [
          { id: 'first', type: 'delay', with: { duration: '1s' } },
          { id: 'second', type: 'noop', dependsOn: ['first'] },
        ],
      }),
    );
    await waitForState(handle, (state) => state.steps.first!.status === 'running');
    await handle.executeUpdate(pauseUpdate, { args: [{ actor: operator }] });
    await waitForState(handle, (state) => state.steps.first!.status === 'succeeded');
    await handle.executeUpdate(resumeUpdate, { args: [{ actor: operator }] });
    await handle.result();
    return handle;
  },

  async continueAsNew(client, taskQueue) {
    const chain = Array.from({ length: 6 }, (_, i) => ({
      id: `s${i}`,
      type: 'noop' as const,
      with: { output: i },
      dependsOn: i === 0 ? [] : [`s${i - 1}`],
    }));
    const handle = await startRun(
      client,
      taskQueue,
      runInput(
        {
          steps: [
            { id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] }, timeout: '1h' } },
            ...chain,
            { id: 'final', type: 'noop', dependsOn: ['gate', 's5'] },
          ],
        },
        { limits: { continueAsNewAfterEvents: 25 } },
      ),
    );
    await waitForState(handle, (state) => state.steps.s5!.status === 'succeeded');
    await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'gate', actor: { subject: 'bob', roles: [] } }] });
    await handle.result();
    return handle;
  },

  /** Six parallel steps with two slots: four wait for the cap (the `cap-steps-in-flight` patch). */
  async queuedByCap(client, taskQueue) {
    const wide = Array.from({ length: 6 }, (_, i) => ({ id: `w${i}`, type: 'noop' as const, with: { output: i } }));
    const handle = await startRun(
      client,
      taskQueue,
      runInput({ steps: [...wide, { id: 'after', type: 'noop', dependsOn: wide.map((step) => step.id) }] }, { limits: { maxStepsInFlight: 2 } }),
    );
    await handle.result();
    return handle;
  },

  /**
   * Sixty steps whose condition and template cost more in all than one workflow task may evaluate:
   * admission starts some and defers the rest to later tasks (the `spread-expression-cost` patch).
   */
  async spreadExpressionCost(client, taskQueue) {
    const template = '{{ $uppercase(inputs.service) & "-" & $string(run.templateVersion) & "-" & $join(["a", "b", "c"], ".") }}';
    const wide = Array.from({ length: 60 }, (_, i) => ({
      id: `t${i}`,
      type: 'noop' as const,
      when: '$uppercase(inputs.service) = "BILLING"',
      with: { output: template },
    }));
    const handle = await startRun(
      client,
      taskQueue,
      runInput({ steps: [...wide, { id: 'after', type: 'noop', dependsOn: wide.map((step) => step.id) }] }, { inputs: { service: 'billing' } }),
    );
    await handle.result();
    return handle;
  },

  /**
   * A run whose tenant subscribed channels to its notices: the approval request, its settlement and
   * the run's end each start a delivery workflow (the `channel-notices` patch). The recording worker
   * has no database, so those deliveries fail on their own; the run is not affected.
   */
  async approvalNotices(client, taskQueue) {
    const handle = await startNamedRun(
      client,
      taskQueue,
      'approvalNotices',
      runInput(
        {
          steps: [
            { id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] }, timeout: '1h' } },
            { id: 'after', type: 'noop', dependsOn: ['gate'] },
          ],
        },
        { tenantId: NOTICE_TENANT, notices: ['approval_requested', 'approval_reminder', 'approval_settled', 'run_succeeded'] },
      ),
    );
    await waitForState(handle, (state) => state.status === 'waiting_approval');
    await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'gate', actor: { subject: 'bob', roles: [] } }] });
    await handle.result();
    return handle;
  },

  /** A step held by `onError: pause` notifies (run_held), is retried and the run goes on. */
  async heldNotice(client, taskQueue, url) {
    const handle = await startNamedRun(
      client,
      taskQueue,
      'heldNotice',
      runInput({ steps: [{ id: 'held', type: 'http', with: { url: url('/once') }, onError: 'pause' }] }, { tenantId: NOTICE_TENANT, notices: ['run_held', 'run_failed'] }),
    );
    await waitForState(handle, (state) => state.status === 'held');
    await handle.executeUpdate(retryStepUpdate, { args: [{ stepId: 'held', actor: operator }] });
    await handle.result();
    return handle;
  },

  /**
   * Steps asking for their own notices (`notify`) in a run with no subscription: a failure the run
   * goes on from (step_failed), an approval's request, settlement and success. The channels they
   * name are not in the recording's database, so each delivery plans none.
   */
  async stepNotify(client, taskQueue, url) {
    const handle = await startNamedRun(
      client,
      taskQueue,
      'stepNotify',
      runInput(
        {
          steps: [
            {
              id: 'call',
              type: 'http',
              with: { url: url('/bad') },
              retry: { maxAttempts: 1 },
              onError: 'continue',
              notify: { on: ['failed'], channels: ['ops'], mention: { users: ['dave'], roles: ['sre'] } },
            },
            {
              id: 'gate',
              type: 'approval',
              with: { approvers: { users: ['bob'] }, timeout: '1h' },
              notify: { on: ['approval_requested', 'approval_reminder', 'approval_settled', 'succeeded'], channels: ['ops'] },
            },
          ],
        },
        { tenantId: NOTICE_TENANT },
      ),
    );
    await waitForState(handle, (state) => state.steps.call!.status === 'failed' && state.status === 'waiting_approval');
    await handle.executeUpdate(approveUpdate, { args: [{ stepId: 'gate', actor: { subject: 'bob', roles: [] } }] });
    await handle.result();
    return handle;
  },

  /**
   * A notice's own delivery workflow (workflows/notifications/send-notice.ts): planned to one
   * channel of a tenant in the recording's database, delivered after the receiver first answered
   * 503 (retried in the activity), and recorded.
   */
  async sendNotice(client, taskQueue, url) {
    const { tenantId, templateId } = await noticeTenant({ slug: 'recorded', channelId: '00000000-0000-4000-8000-00000000000c', receiver: url('/notice'), kind: 'run_failed' });
    const notice: Notice = {
      key: 'sendNotice',
      kind: 'run_failed',
      tenantId,
      at: '2026-11-29T20:00:00.000Z',
      run: { id: 'run-recorded', templateId, templateName: 'recorded', templateVersion: 1, startedBy: 'alice' },
      error: { message: 'step call failed' },
    };
    const handle = await client.workflow.start(sendNotice, { workflowId: 'sendNotice', taskQueue, args: [notice] });
    await handle.result();
    return handle;
  },

  /**
   * A publish notice's delivery workflow (workflows/notifications/send-publish-notice.ts): a failed
   * publish planned to the one channel subscribed to publish_failed, delivered after the receiver
   * first answered 503, and recorded.
   */
  async sendPublishNotice(client, taskQueue, url) {
    const { tenantId, templateId } = await noticeTenant({
      slug: 'recorded-publish',
      channelId: '00000000-0000-4000-8000-00000000000d',
      receiver: url('/publish-notice'),
      kind: 'publish_failed',
    });
    const notice: PublishNotice = {
      kind: 'publish_failed',
      key: 'sendPublishNotice',
      tenantId,
      publishId: '00000000-0000-4000-8000-00000000000e',
      templateId,
      templateName: 'recorded',
      templateVersion: 1,
      target: 'staging',
      requestedBy: 'alice',
      approverRoles: [],
      error: { message: 'the target answered 401', state: 'the definition holds the new version and is offline; publish again to bring it online' },
    };
    const handle = await client.workflow.start(sendPublishNotice, { workflowId: 'sendPublishNotice', taskQueue, args: [notice] });
    await handle.result();
    return handle;
  },

  /** An approval nobody decides: its deadline passes and `onTimeout: approve` settles it (transition events). */
  async approvalTimeout(client, taskQueue) {
    const handle = await startRun(
      client,
      taskQueue,
      runInput({
        steps: [
          { id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] }, timeout: '1s', onTimeout: 'approve' } },
          { id: 'deploy', type: 'noop', dependsOn: ['gate'] },
        ],
      }),
    );
    await handle.result();
    return handle;
  },

  /** A group whose member outlasts the group's timeout: the member is cancelled, the one queued behind it skipped. */
  async groupTimeout(client, taskQueue) {
    const handle = await startRun(
      client,
      taskQueue,
      runInput({
        steps: [
          { id: 'slow', type: 'delay', with: { duration: '1m' } },
          { id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] } } },
          { id: 'after', type: 'noop', dependsOn: ['timed'] },
        ],
        groups: [{ id: 'timed', steps: ['slow', 'gate'], timeout: '1s' }],
      }),
    );
    await handle.result().catch(() => undefined);
    return handle;
  },

  /** The run's own deadline passes while an approval waits. */
  async runTimeout(client, taskQueue) {
    const handle = await startRun(
      client,
      taskQueue,
      runInput({
        timeout: '1s',
        steps: [
          { id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] } } },
          { id: 'after', type: 'noop', dependsOn: ['gate'] },
        ],
      }),
    );
    await handle.result().catch(() => undefined);
    return handle;
  },

  /** A run cancelled while an approval waits and a delay runs. */
  async cancel(client, taskQueue) {
    const handle = await startRun(
      client,
      taskQueue,
      runInput({
        steps: [
          { id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] } } },
          { id: 'wait', type: 'delay', with: { duration: '1m' } },
          { id: 'after', type: 'noop', dependsOn: ['gate', 'wait'] },
        ],
      }),
    );
    await waitForState(handle, (state) => state.status === 'waiting_approval' || state.steps.gate!.status === 'waiting_approval');
    await handle.cancel();
    await handle.result().catch(() => undefined);
    return handle;
  },

  /** A step held by `onError: pause`, skipped by an operator; its dependant then runs. */
  async operatorSkip(client, taskQueue, url) {
    const handle = await startRun(
      client,
      taskQueue,
      runInput({
        steps: [
          { id: 'call', type: 'http', with: { url: url('/bad') }, retry: { maxAttempts: 1 }, onError: 'pause' },
          { id: 'after', type: 'noop', dependsOn: ['call'] },
        ],
      }),
    );
    await waitForState(handle, (state) => state.status === 'held');
    await handle.executeUpdate(skipStepUpdate, { args: [{ stepId: 'call', actor: operator }] });
    await handle.result();
    return handle;
  },

  /** A false `when` skips its step; its dependant runs (a skip on purpose satisfies it), another's fails upstream. */
  async falseWhen(client, taskQueue) {
    const handle = await startRun(
      client,
      taskQueue,
      runInput(
        {
          steps: [
            { id: 'prod', type: 'noop', when: 'inputs.env = "prod"' },
            { id: 'next', type: 'noop', dependsOn: ['prod'] },
            { id: 'broken', type: 'noop', when: '$undefinedFunction()', onError: 'continue' },
            { id: 'never', type: 'noop', dependsOn: ['broken'] },
          ],
        },
        { inputs: { env: 'dev' } },
      ),
    );
    await handle.result();
    return handle;
  },

  /**
   * A forEach of six items with onError continue: one skipped by its `when`, one failing, the others'
   * outputs collected in order; the batch workflow that ran the items is kept as forEach-batch.json.
   */
  async forEach(client, taskQueue, url) {
    const handle = await startRun(
      client,
      taskQueue,
      runInput(
        {
          steps: [
            {
              id: 'each',
              type: 'http',
              onError: 'continue',
              forEach: { items: 'inputs.paths', concurrency: 2 },
              when: 'item != "skip"',
              with: { url: url('/{{ item }}') },
              retry: { maxAttempts: 1 },
            },
            { id: 'independent', type: 'noop', with: { output: '{{ $count(inputs.paths) }}' } },
          ],
        },
        { inputs: { paths: ['flaky', 'skip', 'bad', 'items', 'items', 'items'] } },
      ),
    );
    await handle.result();
    return { handle, children: { batch: forEachBatchId(handle.firstExecutionRunId, 'each', 1, 0) } };
  },

  /** A template step: its pinned version loaded by the activity, run as a child run (kept as templateStep-child.json). */
  async templateStep(client, taskQueue) {
    const handle = await startRun(
      client,
      taskQueue,
      runInput(
        {
          steps: [
            { id: 'sub', type: 'template', with: { template: { name: 'doubler', version: 1, versionId: DOUBLER.versionId }, inputs: { n: '{{ inputs.n }}' } } },
            { id: 'after', type: 'noop', dependsOn: ['sub'], with: { output: '{{ steps.sub.output.outputs.double }}' } },
          ],
        },
        { inputs: { n: 21 }, tenantId: DOUBLER.tenantId },
      ),
      DOUBLER.tenantId,
    );
    const result = await handle.result();
    return { handle, children: { child: result.steps.sub!.childRunId! } };
  },

  /** A pause without its actor makes the update handler throw: the crash guard ends the run RunCrashed. */
  async crashed(client, taskQueue) {
    const handle = await startRun(client, taskQueue, runInput({ steps: [{ id: 'gate', type: 'approval', with: { approvers: { users: ['bob'] } } }] }));
    await waitForState(handle, (state) => state.status === 'waiting_approval');
    await handle.executeUpdate(pauseUpdate, { args: [{} as ControlCommand] }).catch(() => undefined);
    await handle.result().catch(() => undefined);
    return handle;
  },
};

/**
 * A run whose workflow id is its recording's name, as replay.test.ts replays it: for runs whose
 * commands carry their workflow id (the event keys of notices).
 */
function startNamedRun(client: Client, taskQueue: string, name: string, input: RunInput): Promise<RunHandle> {
  return client.workflow.start('runTemplate', runStartOptions(input, { workflowId: name, taskQueue, tenantId: input.tenantId })) as Promise<RunHandle>;
}

let noticeDatabase: { prisma: PrismaClient; secrets: SecretStore } | undefined;

/** A tenant with a Slack channel at `receiver`, its template subscribed to `kind` on it (the notice recordings). */
async function noticeTenant(options: { slug: string; channelId: string; receiver: string; kind: SubscribableKind }): Promise<{ tenantId: string; templateId: string }> {
  const { prisma, secrets } = noticeDatabase!;
  const { slug, channelId, receiver, kind } = options;
  const tenant = await prisma.tenant.create({ data: { slug, name: slug } });
  const template = await prisma.template.create({ data: { tenantId: tenant.id, name: 'recorded', createdBy: 'alice' } });
  await secrets.put(tenant.id, channelSecretName(channelId, 'url'), { value: receiver }, 'alice');
  await prisma.notificationChannel.create({
    data: { id: channelId, tenantId: tenant.id, name: 'recorded', kind: 'slack', secretRefs: { url: channelSecretName(channelId, 'url') }, createdBy: 'alice', updatedBy: 'alice' },
  });
  await prisma.notificationSubscription.create({ data: { tenantId: tenant.id, scope: template.id, routes: { [kind]: [channelId] }, updatedBy: 'alice' } });
  return { tenantId: tenant.id, templateId: template.id };
}

/** A run that waits for an approval, gets `decisions` one after the other, and finishes. */
async function decidedApproval(
  client: Client,
  taskQueue: string,
  steps: SpecInput['steps'],
  decisions: [typeof approveUpdate, ApprovalCommand][],
): Promise<RunHandle> {
  const handle = await startRun(client, taskQueue, runInput({ steps }));
  await waitForState(handle, (state) => state.status === 'waiting_approval');
  for (const [update, command] of decisions) await handle.executeUpdate(update, { args: [command] });
  await handle.result();
  return handle;
}

/** Every run of a workflow id's chain (continue-as-new makes several), oldest first. */
async function chainHistories(client: Client, handle: WorkflowHandleWithFirstExecutionRunId): Promise<string[]> {
  const histories: string[] = [];
  let runId: string | null | undefined = handle.firstExecutionRunId;
  while (runId) {
    const history = await client.workflow.getHandle(handle.workflowId, runId).fetchHistory();
    histories.push(toHistoryFile(history));
    runId = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId;
  }
  return histories;
}

async function main(): Promise<void> {
  const devServer = process.env.TEMPORAL_ADDRESS ? undefined : await startTemporalDevServer({ port: await freePort(), uiPort: await freePort() });
  if (devServer) process.env.TEMPORAL_ADDRESS = devServer.address;
  const admin = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
  await ensureSearchAttributes(admin, process.env.TEMPORAL_NAMESPACE ?? 'default');
  await admin.close();

  // A database of its own for the notice recordings: channels, subscriptions, deliveries.
  const dataDir = mkdtempSync(join(tmpdir(), 'flowpilot-record-'));
  chmodSync(dataDir, 0o755);
  const database = await startEmbeddedPostgres({ dataDir: join(dataDir, 'pg'), port: await freePort(), database: 'record' });
  await migrateDatabase(database.url);
  const prisma = createPrismaClient(database.url);
  const secrets = new SecretStore(prisma, Keyring.parse(Keyring.generateEntry('record'), 'SECRETS_KEYS'));
  noticeDatabase = { prisma, secrets };

  const http = await startHttpServer({
    '/notice': (_request, response, hits) => (hits < 2 ? response.writeHead(503).end('busy') : response.writeHead(200).end('ok')),
    '/publish-notice': (_request, response, hits) => (hits < 2 ? response.writeHead(503).end('busy') : response.writeHead(200).end('ok')),
    '/flaky': (_request, response, hits) => (hits < 3 ? json(response, 503, { error: 'busy' }) : json(response, 200, { ok: true })),
    '/once': (request, response) =>
      String(request.headers['idempotency-key']).endsWith('#2') ? json(response, 200, { ok: true }) : json(response, 400, { error: 'no' }),
    '/bad': (_request, response) => setTimeout(() => json(response, 400, { error: 'no' }), 300),
    '/slow': hang,
    '/items': (_request, response) => json(response, 200, { ok: true }),
  });
  const env = await startTestWorker('replay-recording', { secrets, prisma, notifications: { publicBaseUrl: 'http://127.0.0.1:3000' }, templates: recordedTemplates });
  try {
    mkdirSync(historiesDir, { recursive: true });
    const chosen = process.argv.slice(2);
    const unknown = chosen.filter((name) => !(name in recordings));
    if (unknown.length > 0) throw new Error(`no recording named ${unknown.join(', ')}; there are ${Object.keys(recordings).join(', ')}`);
    for (const [name, record] of Object.entries(recordings).filter(([name]) => chosen.length === 0 || chosen.includes(name))) {
      const recorded = await record(env.client, env.taskQueue, http.url);
      const { handle, children } = 'children' in recorded ? recorded : { handle: recorded, children: {} };
      for (const [child, workflowId] of Object.entries(children)) {
        const file = join(historiesDir, `${name}-${child}.json`);
        writeFileSync(file, toHistoryFile(await env.client.workflow.getHandle(workflowId).fetchHistory()));
        console.log(`recorded ${file}`);
      }
      const histories = await chainHistories(env.client, handle);
      histories.forEach((history, i) => {
        const file = join(historiesDir, histories.length === 1 ? `${name}.json` : `${name}-${i + 1}.json`);
        writeFileSync(file, history);
        console.log(`recorded ${file}`);
      });
    }
  } finally {
    await env.shutdown();
    await http.close();
    await prisma.$disconnect();
    await database.stop();
    await devServer?.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
