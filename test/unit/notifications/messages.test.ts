import { noticeMessage, plainText } from '../../../activities/notifications/messages';
import { NOTICE_KINDS } from '../../../workflows/contract';
import type { Notice } from '../../../workflows/notifications/notice';

/** Every notice kind reads as a sentence for people, in both locales, with the run, the step and the link. */

function noticeOf(kind: Notice['kind']): Notice {
  return {
    key: `notice:run-7:${kind}:deploy`,
    kind,
    tenantId: '00000000-0000-4000-8000-000000000000',
    at: '2026-11-29T20:00:00.000Z',
    run: { id: 'run-7', templateId: 't', templateName: 'release', templateVersion: 4, startedBy: 'alice' },
    step: { id: 'deploy', name: 'Deploy to production' },
    approval: { users: ['bob'], roles: ['sre'], required: 2, message: 'Ship 1.2?', deadline: '2026-11-30T08:00:00.000Z' },
    decision: { outcome: 'rejected', by: ['bob'], comment: 'not today' },
    error: { message: 'step deploy failed: 503', type: 'HttpServerError' },
  };
}

describe.each(NOTICE_KINDS)('%s', (kind) => {
  test.each(['en', 'zh-CN'] as const)('in %s: the template, version, run, owner and link', (locale) => {
    const message = noticeMessage(noticeOf(kind), locale, [], 'https://flowpilot.example.com/');
    const text = plainText(message);
    expect(message.title).toContain('release v4');
    expect(text).toContain('run-7');
    expect(text).toContain('alice');
    expect(message.link?.url).toBe('https://flowpilot.example.com/api/v1/runs/run-7');
    expect(text).toContain(message.link!.url);
  });
});

test('an approval request says what is needed, from whom and until when', () => {
  const en = plainText(noticeMessage(noticeOf('approval_requested'), 'en', [], 'https://x.example'));
  expect(en).toContain('Deploy to production');
  expect(en).toContain('Ship 1.2?');
  expect(en).toContain('Needed: 2 approvals from bob, role sre.');
  expect(en).toContain('Decide before 2026-11-30T08:00:00.000Z.');
  const zh = plainText(noticeMessage(noticeOf('approval_requested'), 'zh-CN', [], 'https://x.example'));
  expect(zh).toContain('需要 bob, 角色 sre 中 2 人批准。');
  expect(zh).toContain('查看运行: https://x.example/api/v1/runs/run-7');
});

test('a settled approval says how and by whom; a failure says why', () => {
  expect(plainText(noticeMessage(noticeOf('approval_settled'), 'en', [], 'https://x.example'))).toContain('Decided by bob.\nComment: not today');
  expect(noticeMessage(noticeOf('approval_settled'), 'zh-CN', [], 'https://x.example').title).toBe('审批已拒绝：release v4，步骤 Deploy to production');
  expect(plainText(noticeMessage(noticeOf('run_failed'), 'en', [], 'https://x.example'))).toContain('Error: step deploy failed: 503');
});
