/**
 * `RocketTestingModule.forRoot({ producer: { group }, broker?: {...} })`: RocketModule wired to an
 * embedded NameServer + Broker started in this process on free ports with a temporary data
 * directory. Shutdown order: RocketModule closes consumers and producer (beforeApplicationShutdown),
 * then the broker stops and its directory is removed (onApplicationShutdown).
 *
 *   const moduleRef = await Test.createTestingModule({
 *     imports: [RocketTestingModule.forRoot({ producer: { group: 'pg' }, broker: { topics: ['Orders'] } }), OrdersModule],
 *   }).compile();
 *   await moduleRef.init();
 *   moduleRef.get<EmbeddedBroker>(ROCKET_EMBEDDED_BROKER).namesrvAddr
 *   await moduleRef.close();
 */
import { Inject, Injectable, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { startEmbeddedBroker, type EmbeddedBroker, type EmbeddedBrokerOptions } from '@rocketry/framework';
import { RocketModule } from './rocket.module';
import type { RocketModuleOptions } from './rocket-module-options';
import { ROCKET_EMBEDDED_BROKER } from './rocket.constants';

export interface RocketTestingModuleOptions extends Omit<RocketModuleOptions, 'nameServer'> {
  /** Embedded broker options (topics to create, settings such as `messageDelayLevel`). @defaultValue free ports, temp dir */
  broker?: EmbeddedBrokerOptions;
}

@Injectable()
class EmbeddedBrokerLifecycle implements OnApplicationShutdown {
  constructor(@Inject(ROCKET_EMBEDDED_BROKER) private readonly broker: EmbeddedBroker) {}

  async onApplicationShutdown(): Promise<void> {
    await this.broker.stop();
  }
}

@Module({})
export class RocketTestingModule {
  static forRoot(options: RocketTestingModuleOptions = {}): DynamicModule {
    const { broker: brokerOptions, ...rocketOptions } = options;
    const brokerModule: DynamicModule = {
      module: class RocketEmbeddedBrokerModule {},
      providers: [
        { provide: ROCKET_EMBEDDED_BROKER, useFactory: () => startEmbeddedBroker(brokerOptions) },
        { provide: EmbeddedBrokerLifecycle, useClass: EmbeddedBrokerLifecycle },
      ],
      exports: [ROCKET_EMBEDDED_BROKER],
    };
    return {
      module: RocketTestingModule,
      global: true,
      imports: [
        brokerModule,
        RocketModule.forRootAsync({
          imports: [brokerModule],
          inject: [ROCKET_EMBEDDED_BROKER],
          useFactory: (broker: EmbeddedBroker): RocketModuleOptions => ({ env: false, ...rocketOptions, nameServer: broker.namesrvAddr }),
        }),
      ],
      exports: [brokerModule, RocketModule],
    };
  }
}
