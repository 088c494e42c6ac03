/**
 * Finds `@RocketListener` handlers in the Nest application and runs them through the framework's
 * listener container, with Nest's enhancers around every call.
 *
 *   onModuleInit            start the RocketTemplate's producer (so other modules' onApplicationBootstrap can send)
 *   onApplicationBootstrap  DiscoveryService → providers (+ controllers) → framework explorer
 *                           → each handler wrapped by ExternalContextCreator (guards, interceptors,
 *                             pipes, exception filters; ExecutionContext type 'rocketmq')
 *                           → registered (validated) → every handler logged → consumers started
 *   beforeApplicationShutdown  stop pulling → drain in-flight (bounded) → persist offsets → close
 *                              consumers, THEN close the producer (handlers may still send while draining)
 *
 * Consumers start only after every module is initialised (pain point: consumers running before the
 * app is ready). A registration error stops what was started and rejects the bootstrap.
 */
import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, ExternalContextCreator } from '@nestjs/core';
import { exploreListeners, RocketListenerContainer, RocketTemplate, type ListenerInvoker, type RegisteredListener } from '@rocketry/framework';
import { isObservable, lastValueFrom } from 'rxjs';
import { RocketContext } from './rocket-context';
import { rocketParamsFactory } from './rocket-params.decorator';
import { ROCKET_CONTEXT_TYPE, ROCKET_LISTENER_CONTAINER, ROCKET_LOGGER_CONTEXT, ROCKET_RESOLVED_CONFIG } from './rocket.constants';
import type { ResolvedRocketModuleOptions } from './rocket-module-options';

type Handler = (...args: unknown[]) => unknown;

@Injectable()
export class RocketListenerExplorer implements OnModuleInit, OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(ROCKET_LOGGER_CONTEXT);
  private registered: RegisteredListener[] = [];

  constructor(
    @Inject(DiscoveryService) private readonly discovery: DiscoveryService,
    @Inject(ExternalContextCreator) private readonly contextCreator: ExternalContextCreator,
    @Inject(ROCKET_LISTENER_CONTAINER) private readonly container: RocketListenerContainer,
    @Inject(RocketTemplate) private readonly template: RocketTemplate | undefined,
    @Inject(ROCKET_RESOLVED_CONFIG) private readonly resolved: ResolvedRocketModuleOptions,
  ) {}

  /** Listeners registered at bootstrap (enabled and disabled). */
  listeners(): readonly RegisteredListener[] {
    return this.registered;
  }

  async onModuleInit(): Promise<void> {
    if (!this.template) {
      this.logger.log('no producer (producer.group not set): RocketTemplate is not available');
      return;
    }
    await this.template.start();
    this.logger.log(`producer ${this.template.producer.group} started (name server ${this.resolved.config.nameServer ?? '-'})`);
  }

  async onApplicationBootstrap(): Promise<void> {
    try {
      this.registerAll();
      await this.container.start();
    } catch (err) {
      // Nest runs no shutdown hook after a failed bootstrap: close what runs so the process can exit.
      await this.container.stop({ awaitTerminationMs: 0 }).catch(() => undefined);
      await this.template?.destroy().catch(() => undefined);
      throw err;
    }
    const consumers = this.container.health().consumers.length;
    if (consumers > 0) this.logger.log(`${consumers} consumer group(s) started`);
  }

  async beforeApplicationShutdown(signal?: string): Promise<void> {
    const began = Date.now();
    const bound = this.resolved.awaitTerminationMs;
    this.logger.log(`shutting down${signal ? ` (${signal})` : ''}: stopping consumers (drain bound ${bound ?? 'per listener'} ms)`);
    await this.container.stop(bound !== undefined ? { awaitTerminationMs: bound } : {});
    if (this.template) await this.template.destroy();
    this.logger.log(`consumers and producer closed in ${Date.now() - began} ms`);
  }

  private wrappers(): ReturnType<DiscoveryService['getProviders']> {
    const providers = this.discovery.getProviders();
    return this.resolved.discoverControllers ? [...providers, ...this.discovery.getControllers()] : providers;
  }

  private registerAll(): void {
    const seen = new Set<object>();
    for (const wrapper of this.wrappers()) {
      const instance: unknown = wrapper.instance;
      if (!instance || typeof instance !== 'object' || seen.has(instance)) continue;
      const discovered = exploreListeners(instance);
      if (discovered.length === 0) continue;
      seen.add(instance);
      if (!wrapper.isDependencyTreeStatic()) {
        // Request-scoped/transient hosts have no single instance to call; say so instead of skipping silently.
        throw new Error(`@RocketListener on ${discovered[0]!.className}: request-scoped or transient providers cannot host listeners; make it a singleton`);
      }
      for (const d of discovered) {
        const listener = this.container.register(d, this.invokerFor(instance, d.methodName));
        this.registered.push(listener);
        this.logListener(listener);
      }
    }
    if (this.registered.length === 0) this.logger.log('no @RocketListener handlers found');
  }

  /** A container invoker that calls the handler through Nest's guards, interceptors, pipes and filters. */
  private invokerFor(instance: object, methodName: string | symbol): ListenerInvoker {
    const callback = (instance as Record<string | symbol, unknown>)[methodName] as Handler;
    const wrapped = this.contextCreator.create(
      instance,
      callback,
      String(methodName),
      ROUTE_ARGS_METADATA,
      rocketParamsFactory,
      undefined,
      undefined,
      { guards: true, interceptors: true, filters: true },
      ROCKET_CONTEXT_TYPE,
    );
    return async ({ listener, payload, message, context, extras }) => {
      const ctx = new RocketContext(message, context, listener.options.topic, listener.options.group, listener.id, extras);
      const result: unknown = await wrapped(payload, message, ctx);
      // A filter or interceptor may answer with an Observable (RpcExceptionFilter style).
      return isObservable(result) ? lastValueFrom(result, { defaultValue: undefined }) : result;
    };
  }

  private logListener(l: RegisteredListener): void {
    const o = l.options;
    const mode = `${o.orderly ? 'ORDERLY' : 'CONCURRENTLY'}/${o.messageModel}`;
    const line = `@RocketListener ${l.id} → topic=${o.topic} selector=${JSON.stringify(o.selector)} group=${o.group} mode=${mode}`;
    this.logger.log(o.enabled ? line : `${line} (disabled)`);
  }
}
