/**
 * One holder at a time per key, in the order they asked: what SQLite's store uses to run the plans of one resource's
 * writes one after the other (the database itself holds no lock across the plan, which awaits).
 */
export class KeyedLock {
  /** Per key, what the last one to ask waits for and then holds: its release ends it. */
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key);
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = before ? before.then(() => mine) : mine;
    this.tails.set(key, tail);
    try {
      if (before) await before;
      return await work();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}
