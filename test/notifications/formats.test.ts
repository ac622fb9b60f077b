import { createHmac, timingSafeEqual } from 'node:crypto';
import { EgressPolicy, GuardedFetch } from '../../activities/egress';
import { DeliveryFailure } from '../../activities/notifications/delivery-failure';
import { channelFormats, type ChannelSettings, type SendContext } from '../../activities/notifications/formats';
import { noticeMessage, type Message, type Recipient } from '../../activities/notifications/messages';
import type { ChannelKind } from '../../apps/common/notifications/channels';
import type { Notice } from '../../workflows/notifications/notice';
import { startHttpReceiver, startSmtpReceiver, type HttpReceiver, type ReceivedRequest } from '../support/receivers';

/**
 * Every channel format against a local receiver that checks what the real service checks: each
 * signature recomputed as the vendor documents it, the message shape, mentions. E-mail goes to a
 * real SMTP server.
 */

const fetcher = new GuardedFetch(new EgressPolicy());
afterAll(() => fetcher.close());

const notice: Notice = {
  key: 'notice:run-1:approval_requested:deploy',
  kind: 'approval_requested',
  tenantId: '00000000-0000-0000-0000-000000000000',
  at: '2026-11-29T20:00:00.000Z',
  run: { id: 'run-1', templateId: 't-1', templateName: 'release', templateVersion: 3, startedBy: 'alice' },
  step: { id: 'deploy' },
  approval: { users: ['bob'], roles: ['sre'], required: 1, message: 'Ship 1.2?', deadline: '2026-11-30T20:00:00.000Z' },
};

const bob: Recipient = {
  subject: 'bob',
  displayName: 'Bob',
  email: 'bob@example.com',
  imIds: { slack: 'U0BOB', feishu: 'ou_bob', dingtalk: 'ding-bob', wecom: 'wecom-bob' },
};

const message = (locale: 'en' | 'zh-CN' = 'en'): Message => noticeMessage(notice, locale, [bob], 'https://flowpilot.example.com');

function context(): SendContext {
  return { fetch: fetcher, egressPolicy: new EgressPolicy(), signal: AbortSignal.timeout(10_000), now: new Date() };
}

function send<K extends ChannelKind>(kind: K, settings: Omit<ChannelSettings<K>, 'name'>, msg = message()): Promise<string> {
  return channelFormats[kind](msg, { name: `${kind} channel`, ...settings } as ChannelSettings<K>, context());
}

const receivers: { close(): Promise<void> }[] = [];
afterAll(async () => {
  await Promise.all(receivers.map((receiver) => receiver.close()));
});
async function receiver(handler: Parameters<typeof startHttpReceiver>[0]): Promise<HttpReceiver> {
  const started = await startHttpReceiver(handler);
  receivers.push(started);
  return started;
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

describe('generic webhook', () => {
  const signingKey = 'whsec-0123456789abcdef';

  /** As the README tells receivers: HMAC-SHA256 over "<timestamp>.<raw body>", hex, fresh within 5 minutes. */
  function verified(request: ReceivedRequest): boolean {
    const timestamp = String(request.headers['x-flowpilot-timestamp']);
    const expected = `v1=${createHmac('sha256', signingKey).update(`${timestamp}.${request.body}`).digest('hex')}`;
    const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
    return fresh && sameText(String(request.headers['x-flowpilot-signature']), expected);
  }

  it('signs the timestamp and body, and carries the event key', async () => {
    const webhook = await receiver((request) => (verified(request) ? { body: { received: true } } : { status: 401, body: 'bad signature' }));
    const answer = await send('webhook', { config: {}, secrets: { url: `${webhook.url}/hook`, signingKey } });
    expect(answer).toBe('200 {"received":true}');
    const [request] = webhook.requests;
    expect(request!.headers['x-flowpilot-event-key']).toBe(notice.key);
    expect(request!.headers['idempotency-key']).toBe(notice.key);
    const body = JSON.parse(request!.body);
    expect(body).toMatchObject({
      eventKey: notice.key,
      kind: 'approval_requested',
      title: 'Approval needed: release v3, step deploy',
      link: 'https://flowpilot.example.com/api/v1/runs/run-1',
      recipients: [{ subject: 'bob', displayName: 'Bob', email: 'bob@example.com' }],
      data: { run: { id: 'run-1', startedBy: 'alice' }, step: { id: 'deploy' } },
    });
  });

  it('a receiver refusing the signature is a refusal no retry changes; a 503 is worth retrying', async () => {
    const webhook = await receiver(() => ({ status: 401, body: 'bad signature' }));
    const refused = send('webhook', { config: {}, secrets: { url: webhook.url, signingKey } });
    await expect(refused).rejects.toMatchObject({ name: 'DeliveryFailure', retryable: false, answer: '401 bad signature' });
    const busy = await receiver(() => ({ status: 503, body: 'busy' }));
    await expect(send('webhook', { config: {}, secrets: { url: busy.url, signingKey } })).rejects.toMatchObject({ retryable: true });
  });

  it('an address the egress policy refuses makes the channel unusable, without quoting the URL', async () => {
    const failure = await send('webhook', { config: {}, secrets: { url: 'http://169.254.169.254/latest?token=abc', signingKey } }).catch((error) => error);
    expect(failure).toBeInstanceOf(DeliveryFailure);
    expect(failure).toMatchObject({ retryable: false, channelUnusable: true });
    expect(failure.message).not.toContain('token=abc');
  });
});

describe('Slack incoming webhook', () => {
  it('posts Block Kit with the title, the link and a mention, and takes "ok" as success', async () => {
    const slack = await receiver((request) => {
      const body = JSON.parse(request.body);
      return Array.isArray(body.blocks) && typeof body.text === 'string' ? { body: 'ok' } : { status: 400, body: 'invalid_blocks' };
    });
    expect(await send('slack', { config: {}, secrets: { url: `${slack.url}/services/T/B/X` } })).toBe('200 ok');
    const body = JSON.parse(slack.requests[0]!.body);
    expect(body.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Approval needed: release v3, step deploy', emoji: true } });
    expect(body.blocks[1].text.text).toContain('<https://flowpilot.example.com/api/v1/runs/run-1|Open the run>');
    expect(body.blocks[2].elements[0].text).toBe('<@U0BOB>');
  });

  it('a URL stored with a user name and password is never quoted in the failure (fetch quotes it whole)', async () => {
    const slack = await receiver(() => ({ body: 'ok' }));
    const stored = slack.url.replace('http://', 'http://robot:hunter2-token@');
    const failure = await send('slack', { config: {}, secrets: { url: `${stored}/services/T/B/X` } }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(DeliveryFailure);
    expect((failure as DeliveryFailure).message).toMatch(/^the receiver could not be reached: .*the channel’s URL/);
    expect((failure as DeliveryFailure).message).not.toContain('hunter2');
  });

  it("Slack's named errors are refusals", async () => {
    const slack = await receiver(() => ({ status: 400, body: 'invalid_payload' }));
    await expect(send('slack', { config: {}, secrets: { url: slack.url } })).rejects.toMatchObject({ retryable: false, answer: '400 invalid_payload' });
  });
});

describe('Feishu / Lark custom bot', () => {
  const secret = 'feishu-secret-abcdef';

  /** Feishu's documented check: base64(HMAC-SHA256(key = timestamp + "\n" + secret, message = "")), timestamp in seconds within an hour. */
  function feishuAnswer(request: ReceivedRequest) {
    const body = JSON.parse(request.body);
    const expected = createHmac('sha256', `${body.timestamp}\n${secret}`).update(Buffer.alloc(0)).digest('base64');
    const fresh = Math.abs(Date.now() / 1000 - Number(body.timestamp)) < 3600;
    if (!fresh || typeof body.sign !== 'string' || !sameText(body.sign, expected)) {
      return { body: { code: 19021, msg: 'sign match fail or timestamp is not within one hour from current time' } };
    }
    return { body: { code: 0, msg: 'success', data: {} } };
  }

  it('signs as documented and sends a post in the channel language, mentioning by user id', async () => {
    const feishu = await receiver(feishuAnswer);
    const answer = await send('feishu', { config: {}, secrets: { url: `${feishu.url}/open-apis/bot/v2/hook/abc`, signingKey: secret } }, message('zh-CN'));
    expect(JSON.parse(answer.slice(4))).toMatchObject({ code: 0 });
    const body = JSON.parse(feishu.requests[0]!.body);
    expect(body.msg_type).toBe('post');
    const post = body.content.post.zh_cn;
    expect(post.title).toBe('待审批：release v3，步骤 deploy');
    expect(post.content).toContainEqual([{ tag: 'a', text: '查看运行', href: 'https://flowpilot.example.com/api/v1/runs/run-1' }]);
    expect(post.content).toContainEqual([{ tag: 'at', user_id: 'ou_bob' }]);
  });

  it('a wrong secret is refused with the code Feishu answers', async () => {
    const feishu = await receiver(feishuAnswer);
    const sent = send('feishu', { config: {}, secrets: { url: feishu.url, signingKey: 'not-the-secret' } });
    await expect(sent).rejects.toMatchObject({ retryable: false, message: expect.stringContaining('code 19021') });
  });
});

describe('DingTalk custom robot', () => {
  const secret = 'SECdingtalk0123456789';

  /** DingTalk's documented check: sign = urlencode(base64(HMAC-SHA256(key = secret, timestamp + "\n" + secret))), timestamp in ms within an hour. */
  function dingtalkAnswer(request: ReceivedRequest) {
    const timestamp = request.url.searchParams.get('timestamp') ?? '';
    const sign = request.url.searchParams.get('sign') ?? '';
    const expected = createHmac('sha256', secret).update(`${timestamp}\n${secret}`).digest('base64');
    const fresh = Math.abs(Date.now() - Number(timestamp)) < 3_600_000;
    if (request.url.searchParams.get('access_token') !== 'robot-token') return { body: { errcode: 300001, errmsg: 'token is not exist' } };
    if (!fresh || !sameText(sign, expected)) return { body: { errcode: 310000, errmsg: 'sign not match' } };
    return { body: { errcode: 0, errmsg: 'ok' } };
  }

  it('signs in the query as documented and mentions by user id in `at` and in the text', async () => {
    const dingtalk = await receiver(dingtalkAnswer);
    const answer = await send('dingtalk', { config: {}, secrets: { url: `${dingtalk.url}/robot/send?access_token=robot-token`, signingKey: secret } });
    expect(answer).toBe('200 {"errcode":0,"errmsg":"ok"}');
    const request = dingtalk.requests[0]!;
    // The raw query carries the base64 URL-encoded ("+", "/" and "=" escaped).
    expect(request.url.search).toMatch(/sign=[A-Za-z0-9%]+/);
    const body = JSON.parse(request.body);
    expect(body).toMatchObject({ msgtype: 'markdown', at: { atUserIds: ['ding-bob'], isAtAll: false } });
    expect(body.markdown.text).toContain('@ding-bob');
    expect(body.markdown.text).toContain('[Open the run](https://flowpilot.example.com/api/v1/runs/run-1)');
  });

  it('a wrong secret is refused; "sending too fast" is worth retrying', async () => {
    const dingtalk = await receiver(dingtalkAnswer);
    const wrong = send('dingtalk', { config: {}, secrets: { url: `${dingtalk.url}/robot/send?access_token=robot-token`, signingKey: 'SECwrong-secret' } });
    await expect(wrong).rejects.toMatchObject({ retryable: false, message: expect.stringContaining('310000') });
    const limited = await receiver(() => ({ body: { errcode: 130101, errmsg: 'send too fast' } }));
    await expect(send('dingtalk', { config: {}, secrets: { url: limited.url } })).rejects.toMatchObject({ retryable: true });
  });
});

describe('WeCom group robot', () => {
  it('sends markdown mentioning by user id, the key in the URL', async () => {
    const wecom = await receiver((request) =>
      request.url.searchParams.get('key') === 'robot-key' ? { body: { errcode: 0, errmsg: 'ok' } } : { body: { errcode: 93000, errmsg: 'invalid webhook url' } },
    );
    expect(await send('wecom', { config: {}, secrets: { url: `${wecom.url}/cgi-bin/webhook/send?key=robot-key` } })).toBe('200 {"errcode":0,"errmsg":"ok"}');
    const body = JSON.parse(wecom.requests[0]!.body);
    expect(body.msgtype).toBe('markdown');
    expect(body.markdown.content).toContain('### Approval needed: release v3, step deploy');
    expect(body.markdown.content).toContain('<@wecom-bob>');
    await expect(send('wecom', { config: {}, secrets: { url: `${wecom.url}/cgi-bin/webhook/send?key=wrong` } })).rejects.toMatchObject({
      retryable: false,
      message: expect.stringContaining('93000'),
    });
  });

  it('a refusal whose reason is not text is quoted as JSON, not as [object Object]', async () => {
    const wecom = await receiver(() => ({ body: { errcode: 40058, errmsg: { field: 'markdown.content', problem: 'too long' } } }));
    await expect(send('wecom', { config: {}, secrets: { url: `${wecom.url}/cgi-bin/webhook/send?key=robot-key` } })).rejects.toMatchObject({
      retryable: false,
      message: 'the receiver refused the message (code 40058: {"field":"markdown.content","problem":"too long"})',
    });
  });
});

describe('e-mail over SMTP', () => {
  it('mails the people a notice is for and the fixed recipients, logged in, with the event key', async () => {
    const smtp = await startSmtpReceiver({ username: 'flowpilot', password: 'smtp-pass' });
    receivers.push(smtp);
    const config = { host: smtp.host, port: smtp.port, secure: false, username: 'flowpilot', from: 'flowpilot@example.com', to: ['ops@example.com'] };
    const answer = await send('email', { config, secrets: { password: 'smtp-pass' } }, message('zh-CN'));
    expect(answer).toMatch(/^250 /);
    const mail = smtp.mails[0]!;
    expect(mail.subject).toBe('待审批：release v3，步骤 deploy');
    expect(mail.text).toContain('查看运行: https://flowpilot.example.com/api/v1/runs/run-1');
    expect(mail.headers.get('x-flowpilot-event-key')).toBe(notice.key);
    expect(smtp.envelopes[0]).toEqual(['bob@example.com', 'ops@example.com']);

    const wrongPassword = send('email', { config, secrets: { password: 'nope' } });
    await expect(wrongPassword).rejects.toMatchObject({ retryable: false });
  });

  it('a server that is down is worth retrying', async () => {
    const smtp = await startSmtpReceiver({ username: 'u', password: 'p' });
    await smtp.close();
    const config = { host: smtp.host, port: smtp.port, secure: false, from: 'flowpilot@example.com', to: ['ops@example.com'] };
    await expect(send('email', { config, secrets: {} })).rejects.toMatchObject({ retryable: true });
  });
});
