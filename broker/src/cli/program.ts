/**
 * The `rocketry` command tree (commander). Handlers live in `commands/`; this file only declares
 * commands and flags (mqadmin's names for `admin`) and maps results and errors to exit codes.
 */
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { AdminClient, DEFAULT_ADMIN_TIMEOUT_MS, resolveNamesrvList } from './admin-client';
import { ExitCode, reportError } from './cli-error';
import { clusterListCommand } from './commands/cluster-list.command';
import { consumerProgressCommand } from './commands/consumer-progress.command';
import { DLQ_LIST_DEFAULT_LIMIT } from './commands/dlq-admin';
import { dlqInspectCommand } from './commands/dlq-inspect.command';
import { dlqListCommand } from './commands/dlq-list.command';
import { dlqPurgeCommand } from './commands/dlq-purge.command';
import { dlqReplayCommand } from './commands/dlq-replay.command';
import { queryMsgByIdCommand } from './commands/query-msg-by-id.command';
import { queryMsgByKeyCommand } from './commands/query-msg-by-key.command';
import { brokerCommand } from './commands/broker.command';
import { namesrvCommand } from './commands/namesrv.command';
import { startCommand } from './commands/start.command';
import { topicListCommand } from './commands/topic-list.command';
import { topicRouteCommand } from './commands/topic-route.command';
import { topicStatusCommand } from './commands/topic-status.command';
import { updateTopicCommand } from './commands/update-topic.command';
import { stdoutOutput, type Output } from './output';
import type { BrokerFlags, NamesrvFlags, StartFlags } from './server-settings';

/** What a run ended with: an exit code, or 'running' for servers that live until a signal. */
export type CliOutcome = number | 'running';

export interface CliContext {
  out: Output;
  err: (line: string) => void;
}

const defaultContext: CliContext = { out: stdoutOutput, err: (line) => process.stderr.write(`${line}\n`) };

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function intArg(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer in [${min}, ${max}]`);
    return n;
  };
}

function boolArg(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new InvalidArgumentError('must be true or false');
}

function addStoreFlags(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'data directory: store under <dir>/store, NameServer kv under <dir>/namesrv (default ./data)')
    .addOption(new Option('--flush <mode>', 'flushDiskType: async (ASYNC_FLUSH) or sync (SYNC_FLUSH, group commit)').choices(['async', 'sync']));
}

function addConfigFlags(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'settings file: RocketMQ key=value properties (# comments) or .json')
    .option('--set <key=value>', 'one setting with its RocketMQ name, e.g. --set brokerName=broker-b (repeatable)', collect, [] as string[]);
}

/** `-n` etc. exactly as mqadmin spells them, plus --json and --timeout. */
function adminCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .alias(name.toLowerCase())
    .description(description)
    .option('-n, --namesrvAddr <addrs>', 'NameServer list host:port;host:port (default $NAMESRV_ADDR or 127.0.0.1:9876)')
    .option('--json', 'print JSON instead of a table')
    .option('--timeout <ms>', 'per-request timeout in ms', intArg('--timeout', 1, 600_000), DEFAULT_ADMIN_TIMEOUT_MS);
}

interface AdminFlags {
  namesrvAddr?: string;
  json?: boolean;
  timeout: number;
}

export function buildProgram(ctx: CliContext, setOutcome: (o: CliOutcome) => void): Command {
  const program = new Command('rocketry')
    .description('Rocketry: a RocketMQ-compatible NameServer and broker')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.out.line(s.replace(/\n$/, '')),
      writeErr: (s) => ctx.err(s.replace(/\n$/, '')),
      outputError: (s, write) => write(`rocketry: ${s}`),
    });

  const serverOpts = () => ({ out: ctx.out });

  addConfigFlags(
    addStoreFlags(
      program
        .command('start', { isDefault: false })
        .description('NameServer + broker in one process (what `npm start` runs)')
        .option('--host <host>', 'listen and advertised host (default: listen 0.0.0.0, advertise 127.0.0.1)')
        .option('--namesrv-port <port>', 'NameServer port, 0 = any free port (default 9876)')
        .option('--broker-port <port>', 'broker port, 0 = any free port (default 10911)'),
    ),
  ).action(async (flags: StartFlags) => {
    await startCommand(flags, serverOpts());
    setOutcome('running');
  });

  addConfigFlags(
    program
      .command('namesrv')
      .description('a NameServer alone')
      .option('--host <host>', 'listen host (default 0.0.0.0)')
      .option('--port <port>', 'port, 0 = any free port (default 9876)')
      .option('--data-dir <dir>', 'data directory: kv config under <dir>/namesrv (default ./data)'),
  ).action(async (flags: NamesrvFlags) => {
    await namesrvCommand(flags, serverOpts());
    setOutcome('running');
  });

  addConfigFlags(
    addStoreFlags(
      program
        .command('broker')
        .description('a broker alone, registering with the given NameServers')
        .option('--namesrv <addrs>', "NameServer list 'host:port;host:port' (default 127.0.0.1:9876)")
        .option('--cluster <name>', 'brokerClusterName (default DefaultCluster)')
        .option('--name <name>', 'brokerName (default broker-a)')
        .option('--id <id>', 'brokerId, 0 = master (default 0)')
        .option('--host <host>', 'listen and advertised host (default: listen 0.0.0.0, advertise 127.0.0.1)')
        .option('--port <port>', 'listenPort, 0 = any free port (default 10911)'),
    ),
  ).action(async (flags: BrokerFlags) => {
    await brokerCommand(flags, serverOpts());
    setOutcome('running');
  });

  const admin = program.command('admin').description("cluster administration with mqadmin's command names and flags");

  const runAdmin = async (flags: AdminFlags, run: (client: AdminClient) => Promise<void>) => {
    const client = new AdminClient(resolveNamesrvList(flags.namesrvAddr), flags.timeout);
    try {
      await run(client);
      setOutcome(ExitCode.OK);
    } finally {
      client.close();
    }
  };

  adminCommand(admin, 'updateTopic', 'create or update a topic on a broker (-b) or on every master of a cluster (-c)')
    .option('-b, --brokerAddr <addr>', 'broker address host:port')
    .option('-c, --clusterName <name>', 'cluster name')
    .requiredOption('-t, --topic <topic>', 'topic name')
    .option('-r, --readQueueNums <n>', 'read queue count', intArg('-r', 1, 1024), 8)
    .option('-w, --writeQueueNums <n>', 'write queue count', intArg('-w', 1, 1024), 8)
    .option('-p, --perm <perm>', 'permission: 2 W, 4 R, 6 RW', intArg('-p', 0, 15), 6)
    .option('-o, --order <bool>', 'ordered topic', boolArg, false)
    .action((f: AdminFlags & { brokerAddr?: string; clusterName?: string; topic: string; readQueueNums: number; writeQueueNums: number; perm: number; order: boolean }) =>
      runAdmin(f, (c) => updateTopicCommand(c, { ...f }, ctx.out)),
    );

  adminCommand(admin, 'topicList', 'list every topic the NameServer knows').action((f: AdminFlags) =>
    runAdmin(f, (c) => topicListCommand(c, f, ctx.out)),
  );

  adminCommand(admin, 'topicRoute', 'show the route of a topic')
    .requiredOption('-t, --topic <topic>', 'topic name')
    .action((f: AdminFlags & { topic: string }) => runAdmin(f, (c) => topicRouteCommand(c, f, ctx.out)));

  adminCommand(admin, 'topicStatus', 'min/max offsets of every queue of a topic')
    .requiredOption('-t, --topic <topic>', 'topic name')
    .action((f: AdminFlags & { topic: string }) => runAdmin(f, (c) => topicStatusCommand(c, f, ctx.out)));

  adminCommand(admin, 'clusterList', 'list clusters, brokers and their addresses').action((f: AdminFlags) =>
    runAdmin(f, (c) => clusterListCommand(c, f, ctx.out)),
  );

  adminCommand(admin, 'consumerProgress', 'broker offset, consumer offset and lag per queue of a consumer group')
    .requiredOption('-g, --groupName <group>', 'consumer group')
    .option('-t, --topicName <topic>', 'only this topic')
    .action((f: AdminFlags & { groupName: string; topicName?: string }) =>
      runAdmin(f, (c) => consumerProgressCommand(c, { group: f.groupName, topic: f.topicName, json: f.json }, ctx.out)),
    );

  adminCommand(admin, 'queryMsgByKey', 'find messages by key (IndexFile lookup on every broker of the route)')
    .requiredOption('-t, --topic <topic>', 'topic name')
    .requiredOption('-k, --msgKey <key>', 'message key')
    .option('-c, --maxNum <n>', 'most messages per broker', intArg('-c', 1, 64 * 1024), 64)
    .option('-b, --beginTimestamp <ms>', 'store time lower bound (ms)', intArg('-b', 0, Number.MAX_SAFE_INTEGER))
    .option('-e, --endTimestamp <ms>', 'store time upper bound (ms)', intArg('-e', 0, Number.MAX_SAFE_INTEGER))
    .action((f: AdminFlags & { topic: string; msgKey: string; maxNum: number; beginTimestamp?: number; endTimestamp?: number }) =>
      runAdmin(f, (c) =>
        queryMsgByKeyCommand(
          c,
          { topic: f.topic, key: f.msgKey, maxNum: f.maxNum, beginTimestamp: f.beginTimestamp, endTimestamp: f.endTimestamp, json: f.json },
          ctx.out,
        ),
      ),
    );

  adminCommand(admin, 'queryMsgById', 'show one message by its offset msgId (or UNIQ_KEY with -t)')
    .requiredOption('-i, --msgId <id>', 'message id')
    .option('-t, --topic <topic>', 'topic, to look the id up as a UNIQ_KEY when it is not an offset id')
    .action((f: AdminFlags & { msgId: string; topic?: string }) =>
      runAdmin(f, (c) => queryMsgByIdCommand(c, { msgId: f.msgId, topic: f.topic, json: f.json }, ctx.out)),
    );

  // Dead-letter queues (issue 6): list, inspect (with the recorded failure reason), replay, purge.
  adminCommand(admin, 'dlqList', 'dead letters per DLQ group (%DLQ%<group>): count, offsets, ids, keys, original topic, reason')
    .option('-g, --groupName <group>', 'only this consumer group (default: every %DLQ% topic)')
    .option('-c, --maxNum <n>', 'most messages shown per group', intArg('-c', 0, 100_000), DLQ_LIST_DEFAULT_LIMIT)
    .action((f: AdminFlags & { groupName?: string; maxNum: number }) =>
      runAdmin(f, (c) => dlqListCommand(c, { group: f.groupName, limit: f.maxNum, json: f.json }, ctx.out)),
    );

  adminCommand(admin, 'dlqInspect', 'one dead letter with its failure reason, properties and body')
    .requiredOption('-g, --groupName <group>', 'consumer group')
    .requiredOption('-i, --msgId <id>', 'UNIQ_KEY, offset msgId or original msgId')
    .action((f: AdminFlags & { groupName: string; msgId: string }) =>
      runAdmin(f, (c) => dlqInspectCommand(c, { group: f.groupName, msgId: f.msgId, json: f.json }, ctx.out)),
    );

  adminCommand(admin, 'dlqReplay', 'send dead letters (all, or -i) back to their original topic')
    .requiredOption('-g, --groupName <group>', 'consumer group')
    .option('-i, --msgId <id>', 'only this message')
    .option('--purge', 'then purge the replayed messages from the DLQ listing')
    .action((f: AdminFlags & { groupName: string; msgId?: string; purge?: boolean }) =>
      runAdmin(f, (c) => dlqReplayCommand(c, { group: f.groupName, msgId: f.msgId, purge: f.purge, json: f.json }, ctx.out)),
    );

  adminCommand(admin, 'dlqPurge', 'hide every current dead letter of a group (moves an admin offset; RocketMQ deletes by retention)')
    .requiredOption('-g, --groupName <group>', 'consumer group')
    .action((f: AdminFlags & { groupName: string }) => runAdmin(f, (c) => dlqPurgeCommand(c, { group: f.groupName, json: f.json }, ctx.out)));

  return program;
}

/** Parses and runs one command line (`argv` as in process.argv). */
export async function runCli(argv: readonly string[], ctx: CliContext = defaultContext): Promise<CliOutcome> {
  let outcome: CliOutcome = ExitCode.OK;
  const program = buildProgram(ctx, (o) => {
    outcome = o;
  });
  if (argv.length <= 2) {
    program.outputHelp();
    return ExitCode.USAGE;
  }
  try {
    await program.parseAsync([...argv]);
    return outcome;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version end with code 0; every parse error is a usage error (already printed).
      return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    return reportError(err, ctx.err);
  }
}
