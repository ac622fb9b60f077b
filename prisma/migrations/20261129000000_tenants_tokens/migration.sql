-- Tenants and API tokens. Templates and audit entries belong to a tenant.

-- CreateTable
CREATE TABLE "Tenant" (
    "id" UUID NOT NULL,
    "slug" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Tenant_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ApiToken" (
    "id" UUID NOT NULL,
    "tenantId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "secretHash" TEXT NOT NULL,
    "roles" TEXT[],
    "system" BOOLEAN NOT NULL DEFAULT false,
    "expiresAt" TIMESTAMPTZ(3),
    "lastUsedAt" TIMESTAMPTZ(3),
    "revokedAt" TIMESTAMPTZ(3),
    "createdBy" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ApiToken_pkey" PRIMARY KEY ("id")
);

CREATE UNIQUE INDEX "Tenant_slug_key" ON "Tenant"("slug");
CREATE UNIQUE INDEX "ApiToken_secretHash_key" ON "ApiToken"("secretHash");
CREATE INDEX "ApiToken_tenantId_createdAt_idx" ON "ApiToken"("tenantId", "createdAt");
ALTER TABLE "ApiToken" ADD CONSTRAINT "ApiToken_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

-- What existed before tenants belongs to a tenant named `default`.
INSERT INTO "Tenant" ("id", "slug", "name")
SELECT '00000000-0000-4000-8000-000000000001', 'default', 'Default'
WHERE EXISTS (SELECT 1 FROM "Template") OR EXISTS (SELECT 1 FROM "AuditEvent");

ALTER TABLE "Template" ADD COLUMN "tenantId" UUID;
UPDATE "Template" SET "tenantId" = '00000000-0000-4000-8000-000000000001';
ALTER TABLE "Template" ALTER COLUMN "tenantId" SET NOT NULL;

ALTER TABLE "AuditEvent" ADD COLUMN "tenantId" UUID;
UPDATE "AuditEvent" SET "tenantId" = '00000000-0000-4000-8000-000000000001';
ALTER TABLE "AuditEvent" ALTER COLUMN "tenantId" SET NOT NULL;

-- Template names are unique per tenant.
DROP INDEX "Template_name_key";
DROP INDEX "Template_archived_createdAt_idx";
CREATE UNIQUE INDEX "Template_tenantId_name_key" ON "Template"("tenantId", "name");
CREATE INDEX "Template_tenantId_archived_createdAt_idx" ON "Template"("tenantId", "archived", "createdAt");
ALTER TABLE "Template" ADD CONSTRAINT "Template_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;

CREATE INDEX "AuditEvent_tenantId_at_idx" ON "AuditEvent"("tenantId", "at");
