-- CreateTable
CREATE TABLE "DolphinSchedulerTarget" (
    "tenantId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "baseUrl" TEXT NOT NULL,
    "tokenSecret" TEXT NOT NULL,
    "projectName" TEXT NOT NULL,
    "tenantCode" TEXT NOT NULL,
    "workerGroup" TEXT NOT NULL DEFAULT 'default',
    "dialect" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "createdBy" TEXT NOT NULL,
    "updatedBy" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "DolphinSchedulerTarget_pkey" PRIMARY KEY ("tenantId","name")
);

-- CreateTable
CREATE TABLE "Publish" (
    "id" UUID NOT NULL,
    "tenantId" UUID NOT NULL,
    "templateId" UUID NOT NULL,
    "templateVersion" INTEGER NOT NULL,
    "target" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "status" TEXT NOT NULL,
    "requestHash" TEXT NOT NULL,
    "schedule" JSONB,
    "requireApproval" BOOLEAN NOT NULL DEFAULT false,
    "workflowId" TEXT NOT NULL,
    "projectCode" BIGINT,
    "definitionCode" BIGINT,
    "definitionVersion" INTEGER,
    "taskCodes" JSONB NOT NULL DEFAULT '{}',
    "scheduleId" INTEGER,
    "requestedBy" TEXT NOT NULL,
    "approvals" JSONB NOT NULL DEFAULT '[]',
    "error" JSONB,
    "steps" JSONB NOT NULL DEFAULT '[]',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "Publish_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "Publish_tenantId_createdAt_id_idx" ON "Publish"("tenantId", "createdAt" DESC, "id" DESC);

-- CreateIndex
CREATE INDEX "Publish_tenantId_templateId_target_createdAt_idx" ON "Publish"("tenantId", "templateId", "target", "createdAt");

-- AddForeignKey
ALTER TABLE "DolphinSchedulerTarget" ADD CONSTRAINT "DolphinSchedulerTarget_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Publish" ADD CONSTRAINT "Publish_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
