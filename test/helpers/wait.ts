/**
 * Polling for a condition instead of sleeping for a fixed time: returns as soon as `until` holds
 * for what `probe` returns (by default, as soon as it is truthy), and fails with the last value
 * seen when it does not hold within `timeout` ms. A test that waits this way is as fast as the
 * machine allows and does not break when the machine is slower than the sleep assumed.
 */
export interface WaitOptions<T> {
  until?: (value: T) => boolean;
  /** ms; default 30 s: a hang guard, not a speed assert (a busy CI worker may take that long). */
  timeout?: number;
  /** ms between probes; default 100. */
  interval?: number;
  /** What is awaited, for the error message. */
  what?: string;
}

export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions<T> & { until: (value: T) => boolean }): Promise<T>;
/** Without `until`: the first value that is truthy (a row, a link, a non-zero count). */
export async function waitFor<T>(probe: () => T | Promise<T>, options?: Omit<WaitOptions<T>, 'until'>): Promise<NonNullable<T>>;
export async function waitFor<T>(probe: () => T | Promise<T>, options: WaitOptions<T> = {}): Promise<T> {
  const until = options.until ?? ((value: T) => Boolean(value));
  const deadline = Date.now() + (options.timeout ?? 30_000);
  for (;;) {
    const value = await probe();
    if (until(value)) return value;
    if (Date.now() > deadline) {
      const shown = typeof value === 'string' ? value.slice(-500) : JSON.stringify(value)?.slice(0, 500);
      throw new Error(`timed out waiting for ${options.what ?? 'a condition'}; last seen: ${shown}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.interval ?? 100));
  }
}
