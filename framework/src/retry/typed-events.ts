/**
 * A small typed event hub for the reliability modules (outbox, async send retry). Same contract as
 * the client's `Instrumentation`: synchronous listeners in registration order, a throwing listener is
 * isolated (reported to `onListenerError`) so observability can never break a send or the relay.
 */
export class TypedEvents<M extends object> {
  private readonly listeners = new Map<keyof M, Array<(event: never) => void>>();

  constructor(private readonly onListenerError: (err: unknown, event: keyof M) => void = () => undefined) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof M>(name: K, listener: (event: M[K]) => void): () => void {
    let list = this.listeners.get(name);
    if (!list) {
      list = [];
      this.listeners.set(name, list);
    }
    list.push(listener as (event: never) => void);
    return () => this.off(name, listener);
  }

  off<K extends keyof M>(name: K, listener: (event: M[K]) => void): void {
    const list = this.listeners.get(name);
    if (!list) return;
    const i = list.indexOf(listener as (event: never) => void);
    if (i >= 0) list.splice(i, 1);
  }

  /** True when `name` has listeners; check before building an event on a hot path. */
  has(name: keyof M): boolean {
    return (this.listeners.get(name)?.length ?? 0) > 0;
  }

  emit<K extends keyof M>(name: K, event: M[K]): void {
    const list = this.listeners.get(name);
    if (!list || list.length === 0) return;
    for (const listener of list.slice()) {
      try {
        (listener as (e: M[K]) => void)(event);
      } catch (err) {
        this.onListenerError(err, name);
      }
    }
  }
}
