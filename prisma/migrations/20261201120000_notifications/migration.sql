-- Notifications: channels, the people they address, subscriptions (notice kind -> channels) and
-- the record of every delivery.

CREATE TABLE "NotificationChannel" (
    "id" UUID NOT NULL,
    "tenantId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "locale" TEXT NOT NULL DEFAULT 'en',
    "config" JSONB NOT NULL DEFAULT '{}',
    "secretRefs" JSONB NOT NULL DEFAULT '{}',
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "createdBy" TEXT NOT NULL,
    "updatedBy" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "NotificationChannel_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "NotificationChannel_kind_check" CHECK ("kind" IN ('webhook', 'slack', 'feishu', 'dingtalk', 'wecom', 'email')),
    CONSTRAINT "NotificationChannel_locale_check" CHECK ("locale" IN ('en', 'zh-CN'))
);
CREATE UNIQUE INDEX "NotificationChannel_tenantId_name_key" ON "NotificationChannel"("tenantId", "name");
ALTER TABLE "NotificationChannel" ADD CONSTRAINT "NotificationChannel_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

CREATE TABLE "Person" (
    "tenantId" UUID NOT NULL,
    "subject" TEXT NOT NULL,
    "displayName" TEXT NOT NULL DEFAULT '',
    "email" TEXT,
    "imIds" JSONB NOT NULL DEFAULT '{}',
    "roles" TEXT[],
    "source" TEXT NOT NULL DEFAULT 'admin',
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Person_pkey" PRIMARY KEY ("tenantId", "subject")
);
-- "the members of role sre": roles are searched with && / @>.
CREATE INDEX "Person_roles_idx" ON "Person" USING GIN ("roles");
ALTER TABLE "Person" ADD CONSTRAINT "Person_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

CREATE TABLE "NotificationSubscription" (
    "tenantId" UUID NOT NULL,
    "scope" TEXT NOT NULL,
    "routes" JSONB NOT NULL DEFAULT '{}',
    "updatedBy" TEXT NOT NULL,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "NotificationSubscription_pkey" PRIMARY KEY ("tenantId", "scope")
);
ALTER TABLE "NotificationSubscription" ADD CONSTRAINT "NotificationSubscription_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

CREATE TABLE "NotificationDelivery" (
    "id" UUID NOT NULL,
    "tenantId" UUID NOT NULL,
    "eventKey" TEXT NOT NULL,
    "eventKind" TEXT NOT NULL,
    "runId" TEXT NOT NULL,
    "stepId" TEXT,
    "channelId" UUID NOT NULL,
    "channelName" TEXT NOT NULL,
    "status" TEXT NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "lastError" TEXT,
    "receiverAnswer" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,
    "deliveredAt" TIMESTAMPTZ(3),

    CONSTRAINT "NotificationDelivery_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "NotificationDelivery_status_check" CHECK ("status" IN ('pending', 'retrying', 'succeeded', 'failed'))
);
CREATE UNIQUE INDEX "NotificationDelivery_eventKey_channelId_key" ON "NotificationDelivery"("eventKey", "channelId");
CREATE INDEX "NotificationDelivery_tenantId_createdAt_id_idx" ON "NotificationDelivery"("tenantId", "createdAt" DESC, "id" DESC);
CREATE INDEX "NotificationDelivery_tenantId_runId_idx" ON "NotificationDelivery"("tenantId", "runId");
-- No foreign key to the channel: a delivery stays on record after its channel is deleted.
ALTER TABLE "NotificationDelivery" ADD CONSTRAINT "NotificationDelivery_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
