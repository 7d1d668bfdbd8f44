/**
 * Resolves after `ms`, or as soon as `signal` aborts (at once when it already has): a wait
 * between attempts must never hold an interrupted run. The listener is removed either way, so
 * many waits on one long-lived signal do not pile up listeners.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
