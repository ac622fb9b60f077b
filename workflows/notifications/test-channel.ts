import { proxyActivities } from '@temporalio/workflow';

/** What a channel's test message met: the receiver's answer, or why it was not delivered. */
export interface ChannelTestResult {
  delivered: boolean;
  answer?: string;
  error?: string;
}

export interface ChannelTestActivities {
  sendChannelTest(tenantId: string, channelId: string, eventKey: string): Promise<ChannelTestResult>;
}

export const TEST_CHANNEL_WORKFLOW_TYPE = 'testChannel';

/** One attempt, no retries: the admin who asked is waiting for the answer. */
const { sendChannelTest } = proxyActivities<ChannelTestActivities>({ startToCloseTimeout: '30s', retry: { maximumAttempts: 1 } });

/**
 * Sends a channel's test message from a worker, so it leaves through the worker's egress policy
 * with the worker's access to secrets, like every notice; the API waits for the answer
 * (`POST /api/v1/channels/:id/test`). The workflow id is the test's event key.
 */
export async function testChannel(tenantId: string, channelId: string, eventKey: string): Promise<ChannelTestResult> {
  return sendChannelTest(tenantId, channelId, eventKey);
}
