-- CreateTable
CREATE TABLE "Secret" (
    "tenantId" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "description" TEXT NOT NULL DEFAULT '',
    "keyId" TEXT NOT NULL,
    "ciphertext" BYTEA NOT NULL,
    "createdBy" TEXT NOT NULL,
    "updatedBy" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "Secret_pkey" PRIMARY KEY ("tenantId","name")
);

-- CreateIndex
CREATE INDEX "Secret_keyId_idx" ON "Secret"("keyId");

-- AddForeignKey: a secret belongs to a tenant, like a template (20261129000000_tenants_tokens).
ALTER TABLE "Secret" ADD CONSTRAINT "Secret_tenantId_fkey" FOREIGN KEY ("tenantId") REFERENCES "Tenant"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
