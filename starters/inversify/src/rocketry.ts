/**
 * Lifecycle of Rocketry inside an inversify container:
 *
 *   start(container): resolve every `@RocketListener` class bound in the container (by its class, or
 *                     listed in `listeners`) → register its listeners (errors name class/method/option)
 *                     → start the template's producer → start one PushConsumer per group.
 *   stop():           stop pulling → drain in-flight handlers up to the bound → persist offsets →
 *                     close consumers, then the producer. Also run by `container.unbindAll()`
 *                     (the binding's deactivation) and, if enabled, on SIGTERM/SIGINT.
 *
 * Consumers start only when `start` is called, i.e. once the application says it is ready
 * (rocketmq-spring pain point: consumers running before the app is ready).
 */
import type { Container, ServiceIdentifier } from 'inversify';
import {
  exploreListeners,
  hasRocketListeners,
  rocketListenerClasses,
  type RegisteredListener,
  type RocketListenerContainer,
  type RocketListenerHealth,
  type RocketTemplate,
  type Logger,
} from '@rocketry/framework';

export interface RocketryLifecycleOptions {
  /** Extra listener service identifiers (e.g. classes bound under a symbol). */
  listeners?: readonly ServiceIdentifier<object>[];
  /** Bound of the drain at stop; default each group's awaitTerminationMillisWhenShutdown. */
  awaitTerminationMs?: number;
}

type State = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

export class Rocketry {
  private state: State = 'created';
  private stopping: Promise<void> | undefined;
  private readonly signalHandlers = new Map<NodeJS.Signals, () => void>();

  constructor(
    readonly listenerContainer: RocketListenerContainer,
    readonly template: RocketTemplate | undefined,
    private readonly options: RocketryLifecycleOptions,
    private readonly logger: Logger | undefined,
  ) {}

  get running(): boolean {
    return this.state === 'running';
  }

  /** Discovers and starts the listeners bound in `container`, and the template's producer. */
  async start(container: Container): Promise<RegisteredListener[]> {
    if (this.state !== 'created') throw new Error(`Rocketry.start: already ${this.state}`);
    this.state = 'starting';
    try {
      const ids = new Set<ServiceIdentifier<object>>(this.options.listeners ?? []);
      for (const cls of rocketListenerClasses()) {
        if (hasRocketListeners(cls) && container.isBound(cls as ServiceIdentifier<object>)) ids.add(cls as ServiceIdentifier<object>);
      }
      const registered: RegisteredListener[] = [];
      for (const id of ids) {
        const instance = await container.getAsync<object>(id);
        const found = exploreListeners(instance);
        if (found.length === 0) throw new Error(`Rocketry.start: ${String(typeof id === 'function' ? id.name : id)} declares no @RocketListener`);
        for (const d of found) registered.push(this.listenerContainer.register(d));
      }
      for (const l of registered) {
        const o = l.options;
        this.logger?.info(
          { listener: l.id, group: o.group, topic: o.topic, selector: o.selector, orderly: o.orderly, messageModel: o.messageModel, enabled: o.enabled },
          'rocket listener discovered',
        );
      }
      if (this.template) await this.template.start();
      await this.listenerContainer.start();
      this.state = 'running';
      return registered;
    } catch (err) {
      this.state = 'stopped';
      await this.listenerContainer.stop({ awaitTerminationMs: 0 }).catch(() => undefined);
      if (this.template) await this.template.destroy().catch(() => undefined);
      throw err;
    }
  }

  /** Graceful, bounded stop (idempotent). */
  stop(options: { awaitTerminationMs?: number } = {}): Promise<void> {
    this.stopping ??= (async () => {
      this.state = 'stopping';
      for (const [signal, handler] of this.signalHandlers) process.off(signal, handler);
      this.signalHandlers.clear();
      const awaitTerminationMs = options.awaitTerminationMs ?? this.options.awaitTerminationMs;
      await this.listenerContainer.stop(awaitTerminationMs !== undefined ? { awaitTerminationMs } : {});
      if (this.template) await this.template.destroy();
      this.state = 'stopped';
    })();
    return this.stopping;
  }

  /** Stops gracefully on these signals, then calls `onStopped` (default: exit 0). */
  enableShutdownHooks(signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'], onStopped: () => void = () => process.exit(0)): void {
    for (const signal of signals) {
      if (this.signalHandlers.has(signal)) continue;
      const handler = () => {
        void this.stop().finally(onStopped);
      };
      this.signalHandlers.set(signal, handler);
      process.once(signal, handler);
    }
  }

  health(): RocketListenerHealth {
    return this.listenerContainer.health();
  }
}
