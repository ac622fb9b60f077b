import type { Person, PrismaClient } from '@prisma/client';
import type { z } from 'zod';
import { lockKeyForTransaction } from '../../../common/database';
import { auditRow } from '../audit/trail';
import type { TenantActor } from './tenant-actor';
import { problems } from '../http/problem';
import type { PutPersonBody } from './schemas';

/**
 * The tenant's directory of people, which notices resolve approvers and owners against: kept by
 * admins here, and filled from OIDC claims at sign-in (`PersonSync`). An admin's entry wins over
 * what sign-in would write, except that sign-in keeps the e-mail and name fresh when an admin left them empty.
 */

export interface PersonView {
  subject: string;
  displayName: string;
  email: string | null;
  imIds: Record<string, string>;
  roles: string[];
  source: 'admin' | 'oidc';
  updatedAt: string;
}

export async function listPeople(prisma: PrismaClient, tenantId: string, role?: string): Promise<PersonView[]> {
  const rows = await prisma.person.findMany({
    where: { tenantId, ...(role === undefined ? {} : { roles: { has: role } }) },
    orderBy: { subject: 'asc' },
  });
  return rows.map(personView);
}

export async function getPerson(prisma: PrismaClient, tenantId: string, subject: string): Promise<PersonView> {
  const row = await prisma.person.findUnique({ where: { tenantId_subject: { tenantId, subject } } });
  if (!row) throw problems.notFound(`no person ${subject}`);
  return personView(row);
}

export async function putPerson(
  prisma: PrismaClient,
  actor: TenantActor,
  subject: string,
  body: z.output<typeof PutPersonBody>,
): Promise<{ person: PersonView; created: boolean }> {
  return prisma.$transaction(async (tx) => {
    await lockKeyForTransaction(tx, 'person', actor.tenantId, subject);
    const key = { tenantId_subject: { tenantId: actor.tenantId, subject } };
    const existed = (await tx.person.findUnique({ where: key, select: { subject: true } })) !== null;
    // A role named twice is one role: kept once, in the order given.
    const data = { displayName: body.displayName, email: body.email, imIds: body.imIds, roles: [...new Set(body.roles)], source: 'admin' };
    const row = await tx.person.upsert({ where: key, create: { tenantId: actor.tenantId, subject, ...data }, update: data });
    await tx.auditEvent.create({
      data: auditRow(actor, {
        action: existed ? 'person.updated' : 'person.created',
        target: { type: 'person', id: subject },
        summary: { roles: data.roles, imKinds: Object.keys(body.imIds), email: body.email !== null },
      }),
    });
    return { person: personView(row), created: !existed };
  });
}

export async function deletePerson(prisma: PrismaClient, actor: TenantActor, subject: string): Promise<void> {
  await prisma.$transaction(async (tx) => {
    const { count } = await tx.person.deleteMany({ where: { tenantId: actor.tenantId, subject } });
    if (count === 0) throw problems.notFound(`no person ${subject}`);
    await tx.auditEvent.create({ data: auditRow(actor, { action: 'person.deleted', target: { type: 'person', id: subject } }) });
  });
}

function personView(row: Person): PersonView {
  return {
    subject: row.subject,
    displayName: row.displayName,
    email: row.email,
    imIds: row.imIds as Record<string, string>,
    roles: row.roles,
    source: row.source as PersonView['source'],
    updatedAt: row.updatedAt.toISOString(),
  };
}
