import type { DolphinSchedulerDialect } from './types';

/**
 * Where the two server lines differ: paths and the names of the definition / instance fields.
 * Everything else (projects, task codes, schedules' paths, envelope, codes) is shared.
 */
export interface DialectTable {
  /** Under `/projects/{projectCode}/`. */
  definitionsPath: string;
  instancesPath: string;
  startInstancePath: string;
  /** The definition code's field on start, schedule create and schedule list. */
  definitionCodeField: string;
  /** The definition code's query parameter on the instance list. */
  instanceListDefinitionCodeParam: string;
  /** The instance id's field on `executors/execute`. */
  executeInstanceIdField: string;
  /**
   * 3.1 wants `tenantCode` with the definition; 3.2+ take it on start and schedule instead (sent
   * by both dialects: 3.1 ignores it there, so the v3.1 dialect serves 3.2 servers too).
   */
  tenantCodeWithDefinition: boolean;
  /**
   * 3.1 accepts a second schedule for one definition and then fails to start it or list its
   * project's definitions (50014, 10122: "expected one result, found 2"); 3.2+ refuse it (10204).
   * Where the server does not, the client refuses it the same way.
   */
  oneSchedulePerDefinitionCheckedByClient: boolean;
}

export const DIALECTS: Readonly<Record<DolphinSchedulerDialect, DialectTable>> = {
  'v3.1': {
    definitionsPath: 'process-definition',
    instancesPath: 'process-instances',
    startInstancePath: 'executors/start-process-instance',
    definitionCodeField: 'processDefinitionCode',
    instanceListDefinitionCodeParam: 'processDefineCode',
    executeInstanceIdField: 'processInstanceId',
    tenantCodeWithDefinition: true,
    oneSchedulePerDefinitionCheckedByClient: true,
  },
  'v3.3': {
    definitionsPath: 'workflow-definition',
    instancesPath: 'workflow-instances',
    startInstancePath: 'executors/start-workflow-instance',
    definitionCodeField: 'workflowDefinitionCode',
    instanceListDefinitionCodeParam: 'workflowDefinitionCode',
    executeInstanceIdField: 'workflowInstanceId',
    tenantCodeWithDefinition: false,
    oneSchedulePerDefinitionCheckedByClient: false,
  },
};
