/**
 * Node's own handle bindings (`process.binding('tcp_wrap')`, `'udp_wrap'`,
 * `'stream_wrap'`): the handles net.Socket and dgram.Socket are built on. Used where
 * the public modules cost more than the work (a port scan, a one-datagram `sendto`,
 * an echo served on the accepted handle), always beside a
 * fallback through the public module: the binding is internal, and each caller
 * checks the shape it needs before it uses one.
 */

/**
 * The binding `name`, or null when this Node does not offer it, or when pending
 * deprecations are on (process.binding() then warns, DEP0111: the caller takes its
 * public path, quietly).
 */
export function nodeBinding(
  name: 'tcp_wrap' | 'udp_wrap' | 'stream_wrap' | 'pipe_wrap' | 'uv',
): Record<string, unknown> | null {
  const flags = `${process.execArgv.join(' ')} ${process.env.NODE_OPTIONS ?? ''}`;
  const pending =
    flags.includes('--pending-deprecation') || process.env.NODE_PENDING_DEPRECATION === '1';
  if (pending) return null;
  try {
    const get = (process as unknown as { binding?: (name: string) => unknown }).binding;
    const b = typeof get === 'function' ? get.call(process, name) : undefined;
    return typeof b === 'object' && b !== null ? (b as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** Whether `cls` is a constructor whose prototype has every method in `methods`. */
export function hasMethods(cls: unknown, methods: readonly string[]): boolean {
  if (typeof cls !== 'function') return false;
  const proto = (cls as { prototype?: Record<string, unknown> }).prototype;
  return proto !== undefined && methods.every((m) => typeof proto[m] === 'function');
}
