import { describe, expect, it } from 'vitest';
import { ManualClock } from '../common/clock';
import { createRequest, createResponse, type RemotingCommand } from '../protocol/remoting-command';
import { RequestCode } from '../protocol/request-code';
import type { DispatchEvent } from '../store/types';
import { FakeChannel } from './client/fake-channel.test-support';
import { PullRequestHoldService, type HeldPullRequest } from './pull-request-hold-service';

function setup(maxOffset = () => 0, maxHeldRequests?: number) {
  const clock = new ManualClock(1_000);
  const reruns: RemotingCommand[] = [];
  const svc = new PullRequestHoldService({
    maxOffsetOf: maxOffset,
    rerun: (request) => {
      reruns.push(request);
      return createResponse(request, 0, 'rerun');
    },
    clock,
    maxHeldRequests,
  });
  const held = (over: Partial<HeldPullRequest> = {}): HeldPullRequest => ({
    request: createRequest(RequestCode.PULL_MESSAGE),
    channel: new FakeChannel(),
    topic: 'T',
    queueId: 0,
    pullFromThisOffset: 5,
    deadline: clock.now() + 15_000,
    ...over,
  });
  return { clock, reruns, svc, held };
}

const event = (over: Partial<DispatchEvent> = {}): DispatchEvent => ({
  topic: 'T', queueId: 0, queueOffset: 5, physicalOffset: 0, size: 100, tagsCode: 0, storeTimestamp: 0, properties: {}, ...over,
});

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('PullRequestHoldService', () => {
  it('wakes the matching queue on dispatch, once per turn, and answers through the channel', async () => {
    const { svc, held, reruns } = setup();
    const a = held();
    const b = held({ queueId: 1 });
    svc.hold(a);
    svc.hold(b);
    svc.onDispatch(event({ queueOffset: 4 })); // below the requested offset: no wake
    svc.onDispatch(event());
    svc.onDispatch(event({ queueOffset: 6 }));
    expect(reruns).toHaveLength(0); // deferred to the next turn
    await nextTurn();
    expect(reruns).toEqual([a.request]);
    expect((a.channel as FakeChannel).written).toHaveLength(1);
    expect(svc.heldCount).toBe(1);
  });

  it('skips messages the filter rejects (tag hash, then properties)', async () => {
    const { svc, held, reruns } = setup();
    svc.hold(held({
      filter: { isMatchedByConsumeQueue: (code) => code === 7, isMatchedByCommitLog: (p) => p.TAGS === 'A' },
    }));
    svc.onDispatch(event({ tagsCode: 8 }));
    svc.onDispatch(event({ tagsCode: 7, properties: { TAGS: 'B' } }));
    await nextTurn();
    expect(reruns).toHaveLength(0);
    svc.onDispatch(event({ tagsCode: 7, properties: { TAGS: 'A' } }));
    await nextTurn();
    expect(reruns).toHaveLength(1);
  });

  it('answers at the deadline or when the queue grew, in the periodic check', () => {
    let max = 0;
    const { svc, held, reruns, clock } = setup(() => max);
    svc.hold(held({ deadline: clock.now() + 100 }));
    svc.hold(held({ queueId: 1, deadline: clock.now() + 10_000 }));
    svc.checkHoldRequests();
    expect(reruns).toHaveLength(0);
    clock.advance(100);
    svc.checkHoldRequests();
    expect(reruns).toHaveLength(1);
    max = 6;
    svc.checkHoldRequests();
    expect(reruns).toHaveLength(2);
    expect(svc.heldCount).toBe(0);
  });

  it('drops requests of closed channels and never writes to them', async () => {
    const { svc, held, reruns } = setup();
    const r1 = held();
    const r2 = held();
    svc.hold(r1);
    svc.hold(r2);
    (r1.channel as FakeChannel).close();
    svc.onChannelClose(r1.channel);
    expect(svc.heldCount).toBe(1);
    (r2.channel as FakeChannel).close();
    svc.onDispatch(event());
    await nextTurn();
    expect(reruns).toHaveLength(0);
    expect(svc.heldCount).toBe(0);
  });

  it('is bounded, and answers everything on shutdown', () => {
    const { svc, held, reruns } = setup(() => 0, 2);
    expect(svc.hold(held())).toBe(true);
    expect(svc.hold(held())).toBe(true);
    expect(svc.hold(held())).toBe(false);
    svc.shutdown();
    expect(reruns).toHaveLength(2);
    expect(svc.hold(held())).toBe(false);
  });
});
