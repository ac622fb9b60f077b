-- AlterTable
ALTER TABLE "Template" ADD COLUMN "owner" TEXT;

-- CreateTable
CREATE TABLE "DolphinSchedulerExecution" (
    "tenantId" UUID NOT NULL,
    "target" TEXT NOT NULL,
    "instanceId" BIGINT NOT NULL,
    "templateId" UUID NOT NULL,
    "projectCode" BIGINT NOT NULL,
    "definitionCode" BIGINT NOT NULL,
    "definitionVersion" INTEGER,
    "name" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "startTime" TIMESTAMPTZ(3),
    "endTime" TIMESTAMPTZ(3),
    "durationMs" BIGINT,
    "durationText" TEXT,
    "host" TEXT,
    "runTimes" INTEGER,
    "commandType" TEXT,
    "scheduleTime" TIMESTAMPTZ(3),
    "executorName" TEXT,
    "tasks" JSONB,
    "taskStates" JSONB,
    "syncedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "DolphinSchedulerExecution_pkey" PRIMARY KEY ("tenantId","target","instanceId")
);

-- CreateTable
CREATE TABLE "DolphinSchedulerHistoryCursor" (
    "tenantId" UUID NOT NULL,
    "target" TEXT NOT NULL,
    "definitionCode" BIGINT NOT NULL,
    "templateId" UUID NOT NULL,
    "projectCode" BIGINT NOT NULL,
    "watermark" TIMESTAMPTZ(3),
    "lastSyncAt" TIMESTAMPTZ(3),
    "lastSuccessAt" TIMESTAMPTZ(3),
    "lastError" JSONB,

    CONSTRAINT "DolphinSchedulerHistoryCursor_pkey" PRIMARY KEY ("tenantId","target","definitionCode")
);

-- CreateTable
CREATE TABLE "InspectionFinding" (
    "id" UUID NOT NULL,
    "tenantId" UUID NOT NULL,
    "fingerprint" TEXT NOT NULL,
    "rule" TEXT NOT NULL,
    "severity" TEXT NOT NULL,
    "templateId" UUID,
    "target" TEXT,
    "owner" TEXT,
    "summary" TEXT NOT NULL,
    "details" JSONB NOT NULL DEFAULT '{}',
    "stateHash" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'open',
    "firstSeenAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastSeenAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "resolvedAt" TIMESTAMPTZ(3),
    "acknowledgedBy" TEXT,
    "acknowledgedAt" TIMESTAMPTZ(3),
    "alertedHash" TEXT,
    "alertedAt" TIMESTAMPTZ(3),

    CONSTRAINT "InspectionFinding_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "DolphinSchedulerExecution_tenantId_templateId_target_startTime_idx" ON "DolphinSchedulerExecution"("tenantId", "templateId", "target", "startTime" DESC);

-- CreateIndex
CREATE INDEX "DolphinSchedulerExecution_tenantId_target_definitionCode_startTime_idx" ON "DolphinSchedulerExecution"("tenantId", "target", "definitionCode", "startTime" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "InspectionFinding_tenantId_fingerprint_key" ON "InspectionFinding"("tenantId", "fingerprint");

-- CreateIndex
CREATE INDEX "InspectionFinding_tenantId_status_lastSeenAt_idx" ON "InspectionFinding"("tenantId", "status", "lastSeenAt" DESC);

-- AddForeignKey
ALTER TABLE "DolphinSchedulerExecution" ADD CONSTRAINT "DolphinSchedulerExecution_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DolphinSchedulerHistoryCursor" ADD CONSTRAINT "DolphinSchedulerHistoryCursor_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "InspectionFinding" ADD CONSTRAINT "InspectionFinding_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
