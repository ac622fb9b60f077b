-- CreateTable
CREATE TABLE "Secret" (
    "tenantId" TEXT NOT NULL,
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
