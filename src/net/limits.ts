/** What the system allows this process: open files. */
import { readFileSync } from 'node:fs';

/** Descriptors a process keeps for everything else (listeners, IPC, files) before the limit. */
export const FD_HEADROOM = 32;

/** With `open` descriptors in use under `limit`, is the limit too close for one more? */
export function nearFileLimit(open: number, limit: number | undefined): limit is number {
  return limit !== undefined && open + FD_HEADROOM >= limit;
}

/** The soft limit on open files, from /proc/self/limits (undefined when unknown). */
export function openFileLimit(): number | undefined {
  try {
    const text = readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
    if (!m) return undefined;
    return m[1] === 'unlimited' ? undefined : Number(m[1]);
  } catch {
    return undefined;
  }
}

/**
 * Bytes of received datagrams that may wait for a slow output (a stdout nobody
 * reads) before new ones are dropped and counted: UDP cannot be made to wait.
 */
export const OUTPUT_BACKLOG = 16 * 1024 * 1024;
