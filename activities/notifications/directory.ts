import type { PrismaClient } from '@prisma/client';
import { MENTIONING_KINDS, type MentioningKind } from '../../apps/common/notifications/channels';
import { stepSettingsFor, type Notice } from '../../workflows/notifications/notice';
import type { Recipient } from './messages';

/** A subject that is itself an e-mail address can be mailed without a directory entry. */
const EMAIL_LIKE = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/**
 * The people a notice is for: an approval's approvers (the users it names and the members of the
 * roles it names), otherwise the run's owner (who started it). Found in the tenant's directory;
 * a named user missing from it is still named (and mailed, if their subject is an address).
 */
export async function recipientsOf(prisma: PrismaClient, notice: Notice): Promise<Recipient[]> {
  const forApprovers = notice.kind === 'approval_requested' || notice.kind === 'approval_reminder';
  const users = forApprovers ? (notice.approval?.users ?? []) : [notice.run.startedBy];
  const roles = forApprovers ? (notice.approval?.roles ?? []) : [];
  return peopleOf(prisma, notice.tenantId, users, roles);
}

/**
 * Whom a notice's message names (mentions, or mails): the people it is for, and those its step's
 * `notify` mentions when it asked for this kind of notice.
 */
export async function messageRecipientsOf(prisma: PrismaClient, notice: Notice): Promise<Recipient[]> {
  const people = await recipientsOf(prisma, notice);
  const mention = stepSettingsFor(notice)?.mention;
  if (mention === undefined) return people;
  const named = new Set(people.map((person) => person.subject));
  const mentioned = await peopleOf(prisma, notice.tenantId, mention.users, mention.roles);
  return [...people, ...mentioned.filter((person) => !named.has(person.subject))];
}

/** The directory entries of the named users and the members of the named roles. */
export async function peopleOf(prisma: PrismaClient, tenantId: string, users: string[], roles: string[]): Promise<Recipient[]> {
  if (users.length === 0 && roles.length === 0) return [];
  const rows = await prisma.person.findMany({
    where: { tenantId, OR: [{ subject: { in: users } }, ...(roles.length > 0 ? [{ roles: { hasSome: roles } }] : [])] },
    orderBy: { subject: 'asc' },
  });
  const known = new Map(rows.map((row) => [row.subject, row]));
  const recipients: Recipient[] = rows.map((row) => ({
    subject: row.subject,
    displayName: row.displayName || row.subject,
    ...(row.email ? { email: row.email } : {}),
    imIds: imIdsOf(row.imIds),
  }));
  for (const subject of users) {
    if (known.has(subject)) continue;
    recipients.push({ subject, displayName: subject, ...(EMAIL_LIKE.test(subject) ? { email: subject } : {}), imIds: {} });
  }
  return recipients;
}

function imIdsOf(stored: unknown): Partial<Record<MentioningKind, string>> {
  const ids: Partial<Record<MentioningKind, string>> = {};
  if (typeof stored !== 'object' || stored === null) return ids;
  for (const kind of MENTIONING_KINDS) {
    const id = (stored as Record<string, unknown>)[kind];
    if (typeof id === 'string' && id.length > 0) ids[kind] = id;
  }
  return ids;
}
