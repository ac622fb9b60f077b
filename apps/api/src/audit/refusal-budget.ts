import ipaddr from 'ipaddr.js';

/**
 * How many refusals the audit log records, so that a flood of refused requests cannot fill it.
 * Counted per API instance and window (a minute): with N instances the bounds are N times these.
 *
 * - A refusal of a credential that names a tenant (a principal's 403; a revoked or expired token of
 *   ours, an expired JWT of a known tenant's) counts against that credential's budget.
 * - A refusal without such a credential (none, or one that names nobody we know) is an entry of the
 *   system scope. It counts against its remote address's budget (an IPv6 address by its /64, which
 *   one host usually holds whole) and against one budget shared by all such refusals. Beyond
 *   either, it is only counted; the window's count, with the addresses that sent most, becomes one
 *   entry when the window ends. So the system scope takes at most `unidentified` + 1 entries a
 *   window, whatever the number of addresses.
 */

export interface RefusalBudgets {
  /** Refusals recorded per credential a window. */
  perCredential: number;
  /** Refusals without a credential of ours recorded per remote address a window. */
  perAddress: number;
  /** Refusals without a credential of ours recorded from all addresses together a window. */
  unidentified: number;
  windowMs: number;
}

export const DEFAULT_REFUSAL_BUDGETS: RefusalBudgets = { perCredential: 30, perAddress: 10, unidentified: 300, windowMs: 60_000 };

/** Addresses counted one by one in a window; refusals from others are counted only in the total. */
const MAX_TRACKED_ADDRESSES = 10_000;
/** The addresses the summary of a window names, those with most refusals first. */
const SUMMARY_ADDRESSES = 10;

/** The refusals of a window that were counted but not recorded. */
export interface SuppressedRefusals {
  from: string;
  to: string;
  suppressed: number;
  /** The addresses (an IPv6 one as its /64) with most refusals in the window, recorded ones included. */
  topAddresses: { address: string; refusals: number }[];
}

interface Window {
  startedAt: number;
  byCredential: Map<string, number>;
  byAddress: Map<string, number>;
  unidentified: number;
  suppressed: number;
}

export class RefusalBudget {
  private window: Window;

  constructor(readonly budgets: RefusalBudgets) {
    // Over from the start: the first refusal opens the first window.
    this.window = newWindow(-budgets.windowMs);
  }

  /** Whether a refusal of this credential is recorded. */
  admitCredential(key: string, now = Date.now()): boolean {
    const window = this.current(now);
    const count = (window.byCredential.get(key) ?? 0) + 1;
    window.byCredential.set(key, count);
    return count <= this.budgets.perCredential;
  }

  /** Whether a refusal without a credential of ours, from this address, is recorded; else it is counted. */
  admitUnidentified(remoteAddress: string | null | undefined, now = Date.now()): boolean {
    const window = this.current(now);
    const address = addressKey(remoteAddress);
    const tracked = window.byAddress.has(address) || window.byAddress.size < MAX_TRACKED_ADDRESSES;
    const count = (window.byAddress.get(address) ?? 0) + 1;
    if (tracked) window.byAddress.set(address, count);
    if (tracked && count <= this.budgets.perAddress && window.unidentified < this.budgets.unidentified) {
      window.unidentified += 1;
      return true;
    }
    window.suppressed += 1;
    return false;
  }

  /** When the current window ends (ms since the epoch). */
  get windowEndsAt(): number {
    return this.window.startedAt + this.budgets.windowMs;
  }

  /**
   * Ends the window when it is over (or at once with `force`, at shutdown) and says what it
   * suppressed, if anything.
   */
  roll(now = Date.now(), force = false): SuppressedRefusals | undefined {
    const ended = this.window;
    if (!force && now < ended.startedAt + this.budgets.windowMs) return undefined;
    this.window = newWindow(now);
    if (ended.suppressed === 0) return undefined;
    const topAddresses = [...ended.byAddress]
      .sort((a, b) => b[1] - a[1])
      .slice(0, SUMMARY_ADDRESSES)
      .map(([address, refusals]) => ({ address, refusals }));
    return {
      from: new Date(ended.startedAt).toISOString(),
      to: new Date(Math.min(now, ended.startedAt + this.budgets.windowMs)).toISOString(),
      suppressed: ended.suppressed,
      topAddresses,
    };
  }

  private current(now: number): Window {
    if (now >= this.window.startedAt + this.budgets.windowMs && this.window.suppressed === 0) this.window = newWindow(now);
    return this.window;
  }
}

function newWindow(startedAt: number): Window {
  return { startedAt, byCredential: new Map(), byAddress: new Map(), unidentified: 0, suppressed: 0 };
}

/** An address as its budget knows it: IPv4 (also when mapped into IPv6) as is, IPv6 by its /64. */
export function addressKey(remoteAddress: string | null | undefined): string {
  if (!remoteAddress || !ipaddr.isValid(remoteAddress)) return 'unknown';
  const address = ipaddr.process(remoteAddress);
  if (address.kind() === 'ipv4') return address.toString();
  const parts = (address as ipaddr.IPv6).parts.slice(0, 4);
  return `${new ipaddr.IPv6([...parts, 0, 0, 0, 0]).toString()}/64`;
}
