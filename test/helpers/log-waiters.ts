// The log lines of a child process, and promises for the first line matching a predicate (already
// seen, or still to come) that fail on a timeout or as soon as the child is gone.
export class LogWaiters<L> {
  readonly lines: L[] = [];
  private readonly waiters = new Set<{ pred: (l: L) => boolean; resolve: (l: L) => void; reject: (e: Error) => void }>();
  private gone: (() => Error) | null = null;

  push(line: L): void {
    this.lines.push(line);
    for (const w of [...this.waiters]) if (w.pred(line)) w.resolve(line);
  }

  /** The child exited: every waiter, now and later, fails with why(). */
  end(why: () => Error): void {
    this.gone = why;
    for (const w of [...this.waiters]) w.reject(why());
  }

  /** The first line from index `from` on matching pred; `timedOut` names what was missing. */
  wait(pred: (l: L) => boolean, timeoutMs: number, from: number, timedOut: () => Error): Promise<L> {
    const seen = this.lines.slice(from).find(pred);
    if (seen !== undefined) return Promise.resolve(seen);
    if (this.gone) return Promise.reject(this.gone());
    return new Promise((resolve, reject) => {
      const settle = <A>(fn: (a: A) => void) => (a: A): void => {
        clearTimeout(timer);
        this.waiters.delete(w);
        fn(a);
      };
      const w = { pred, resolve: settle(resolve), reject: settle(reject) };
      const timer = setTimeout(() => w.reject(timedOut()), timeoutMs);
      this.waiters.add(w);
    });
  }
}
