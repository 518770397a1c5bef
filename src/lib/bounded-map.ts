/**
 * A Map that holds at most `max` entries: setting a new key when full drops the oldest one
 * (insertion order; a hit does not refresh it). For the process's small memo caches (formatters by
 * time zone, language or currency) whose keys come from settings or stored rows: each key is cheap
 * to remake, so the bound only has to stop a stream of distinct keys from growing the process.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  readonly max: number;

  constructor(max: number) {
    super();
    if (!Number.isInteger(max) || max < 1) throw new RangeError('BoundedMap needs a positive whole bound');
    this.max = max;
  }

  override set(key: K, value: V): this {
    if (!this.has(key)) {
      while (this.size >= this.max) this.delete(this.keys().next().value as K);
    }
    return super.set(key, value);
  }
}
