/** Waiting with a bound: the one way sockit waits for things that may never end. */

/**
 * Wait until every promise has settled, or `ms` has passed (Infinity: no bound), or
 * `cut` resolves (a grace period cut short). True when all of them settled in time.
 */
export async function settledWithin(
  promises: readonly Promise<unknown>[],
  ms: number,
  cut?: Promise<unknown>,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const all = Promise.allSettled(promises).then(() => (done = true));
  const deadline = new Promise<void>((resolve) => {
    if (Number.isFinite(ms)) timer = setTimeout(resolve, Math.max(0, ms));
  });
  await Promise.race([all, deadline, ...(cut ? [cut] : [])]);
  clearTimeout(timer);
  return done;
}
