import { parseServerTime } from '../../../activities/dolphinscheduler/history';
import { workflowDependencies } from '../../../activities/dolphinscheduler/inspections';
import type { TaskDefinition, WorkflowDefinitionDag } from '../../../activities/dolphinscheduler/client';

describe('parseServerTime', () => {
  test('reads DolphinScheduler’s yyyy-MM-dd HH:mm:ss as UTC', () => {
    expect(parseServerTime('2026-11-29 20:31:12')?.toISOString()).toBe('2026-11-29T20:31:12.000Z');
    expect(parseServerTime('2026-11-29T20:31:12')?.toISOString()).toBe('2026-11-29T20:31:12.000Z');
  });

  test('anything else is no date rather than a wrong one', () => {
    for (const text of [null, undefined, '', 'yesterday', '29/11/2026 20:31', '2026-13-45 10:00:00', '2026-02-30 10:00:00', '2026-11-29 24:00:00']) {
      expect(parseServerTime(text)).toBeUndefined();
    }
  });
});

describe('workflowDependencies', () => {
  const task = (overrides: Partial<TaskDefinition>): TaskDefinition => ({
    code: 1,
    name: 't',
    version: 1,
    description: null,
    taskType: 'SHELL',
    taskParams: {},
    flag: 'YES',
    taskPriority: 'MEDIUM',
    workerGroup: 'default',
    environmentCode: -1,
    failRetryTimes: 0,
    failRetryInterval: 1,
    timeoutFlag: 'CLOSE',
    timeoutNotifyStrategy: null,
    timeout: 0,
    delayTime: 0,
    cpuQuota: -1,
    memoryMax: -1,
    ...overrides,
  });
  const dag = (tasks: TaskDefinition[]) => ({ tasks }) as unknown as WorkflowDefinitionDag;

  test('sub-workflows and dependent items name the definitions they wait for', () => {
    const found = workflowDependencies(
      dag([
        task({ name: 'shell', taskParams: { rawScript: 'echo 123' } }),
        task({ name: 'sub', taskType: 'SUB_PROCESS', taskParams: { processDefinitionCode: 111 } }),
        task({ name: 'sub33', taskType: 'SUB_PROCESS', taskParams: { workflowDefinitionCode: 333 } }),
        task({
          name: 'wait',
          taskType: 'DEPENDENT',
          taskParams: { dependence: { relation: 'AND', dependTaskList: [{ relation: 'AND', dependItemList: [{ projectCode: 9, definitionCode: 222, depTaskCode: 0 }, { definitionCode: 'junk' }] }] } },
        }),
      ]),
    );
    expect(found).toEqual([
      { taskName: 'sub', taskType: 'SUB_PROCESS', definitionCode: 111 },
      { taskName: 'sub33', taskType: 'SUB_PROCESS', definitionCode: 333 },
      { taskName: 'wait', taskType: 'DEPENDENT', definitionCode: 222 },
    ]);
  });

  test('malformed parameters are no dependency and no crash', () => {
    const malformed = [
      task({ taskType: 'DEPENDENT', taskParams: { dependence: 'nope' } }),
      task({ taskType: 'DEPENDENT', taskParams: { dependence: { dependTaskList: { not: 'a list' } } } }),
      task({ taskType: 'DEPENDENT', taskParams: { dependence: { dependTaskList: [null, { dependItemList: 7 }, { dependItemList: [null, { definitionCode: -5 }] }] } } }),
      task({ taskType: 'SUB_PROCESS', taskParams: {} }),
    ];
    expect(workflowDependencies(dag(malformed))).toEqual([]);
  });
});
