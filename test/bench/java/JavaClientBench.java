package rocketry.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.apache.rocketmq.client.consumer.DefaultMQPushConsumer;
import org.apache.rocketmq.client.consumer.listener.ConsumeConcurrentlyStatus;
import org.apache.rocketmq.client.consumer.listener.MessageListenerConcurrently;
import org.apache.rocketmq.client.producer.DefaultMQProducer;
import org.apache.rocketmq.client.producer.SendCallback;
import org.apache.rocketmq.client.producer.SendResult;
import org.apache.rocketmq.client.producer.SendStatus;
import org.apache.rocketmq.common.consumer.ConsumeFromWhere;
import org.apache.rocketmq.common.message.Message;
import org.apache.rocketmq.common.message.MessageExt;

/**
 * The Apache RocketMQ Java client (remoting, 5.3.x) as a bench worker: the same scenarios and the same
 * result line as test/bench/client-worker.ts, so client-bench.ts can put it in the ratio table.
 *
 *   java -cp ... rocketry.bench.JavaClientBench <scenario> <namesrv> <topic> <warmupTopic> <warmupMessages>
 *        <group> <bodyBytes> <messages> <maxSeconds> <concurrency> <batchSize>
 *
 * stdout (last line): {"event":"result","result":{...}} or {"event":"error","error":"..."}.
 * Default client options; sync = one send at a time, async = send(msg, callback) with `concurrency`
 * in flight (a semaphore), batch = send(List) with `concurrency` batches in flight (threads).
 */
public final class JavaClientBench {
    private static final String NOTES = "Apache RocketMQ Java client 5.3.x (remoting) defaults, JIT on, -Xmx512m";
    private static String scenario;

    public static void main(String[] a) {
        try {
            scenario = a[0];
            String namesrv = a[1], topic = a[2], warmTopic = a[3];
            int warm = Integer.parseInt(a[4]);
            String group = a[5];
            int bodyBytes = Integer.parseInt(a[6]);
            int messages = Integer.parseInt(a[7]);
            int maxSeconds = Integer.parseInt(a[8]);
            int concurrency = Integer.parseInt(a[9]);
            int batchSize = Integer.parseInt(a[10]);
            String result = scenario.equals("drain")
                ? drain(namesrv, topic, group, messages, maxSeconds)
                : produce(namesrv, topic, warmTopic, warm, group, bodyBytes, messages, maxSeconds, concurrency, batchSize);
            System.out.println("{\"event\":\"result\",\"result\":" + result + "}");
            System.out.flush();
            System.exit(0);
        } catch (Throwable t) {
            System.out.println("{\"event\":\"error\",\"error\":" + str(t.toString()) + "}");
            System.out.flush();
            System.exit(1);
        }
    }

    private static String str(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    interface Op { void run() throws Exception; }

    static final class Drive {
        long[] latNanos;
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger errors = new AtomicInteger();
        List<String> samples = new ArrayList<>();
        boolean deadlineHit;
    }

    /** `concurrency` threads, each one call at a time (sync / batch). */
    private static Drive driveThreads(Op op, int maxCalls, int concurrency, long deadlineNanos) throws Exception {
        Drive d = new Drive();
        d.latNanos = new long[maxCalls];
        AtomicInteger next = new AtomicInteger();
        Thread[] ts = new Thread[concurrency];
        for (int i = 0; i < concurrency; i++) {
            ts[i] = new Thread(() -> {
                while (next.getAndIncrement() < maxCalls && d.errors.get() < 200) {
                    if (System.nanoTime() >= deadlineNanos) { d.deadlineHit = true; return; }
                    long t0 = System.nanoTime();
                    try {
                        op.run();
                        long dt = System.nanoTime() - t0;
                        int k = d.ok.getAndIncrement();
                        d.latNanos[k] = dt;
                    } catch (Exception e) {
                        d.errors.incrementAndGet();
                        synchronized (d.samples) { if (d.samples.size() < 5) d.samples.add(e.toString()); }
                    }
                }
            });
            ts[i].start();
        }
        for (Thread t : ts) t.join();
        return d;
    }

    /** send(msg, callback) with at most `concurrency` outstanding (the client's async API). */
    private static Drive driveAsync(DefaultMQProducer p, String topic, byte[] body, int maxCalls, int concurrency, long deadlineNanos) throws Exception {
        Drive d = new Drive();
        d.latNanos = new long[maxCalls];
        Semaphore permits = new Semaphore(concurrency);
        CountDownLatch done = new CountDownLatch(maxCalls);
        int issued = 0;
        for (; issued < maxCalls && d.errors.get() < 200; issued++) {
            if (System.nanoTime() >= deadlineNanos) { d.deadlineHit = true; break; }
            permits.acquire();
            long t0 = System.nanoTime();
            try {
                p.send(new Message(topic, body), new SendCallback() {
                    public void onSuccess(SendResult r) {
                        if (r.getSendStatus() == SendStatus.SEND_OK) d.latNanos[d.ok.getAndIncrement()] = System.nanoTime() - t0;
                        else fail("status " + r.getSendStatus());
                        permits.release();
                        done.countDown();
                    }
                    public void onException(Throwable e) {
                        fail(e.toString());
                        permits.release();
                        done.countDown();
                    }
                    private void fail(String s) {
                        d.errors.incrementAndGet();
                        synchronized (d.samples) { if (d.samples.size() < 5) d.samples.add(s); }
                    }
                });
            } catch (Exception e) {
                permits.release();
                done.countDown();
                d.errors.incrementAndGet();
                synchronized (d.samples) { if (d.samples.size() < 5) d.samples.add(e.toString()); }
            }
        }
        for (int i = issued; i < maxCalls; i++) done.countDown();
        done.await(60, TimeUnit.SECONDS);
        return d;
    }

    private static Drive drive(DefaultMQProducer p, String topic, byte[] body, List<Message> batchTemplate, int maxCalls, int concurrency, long deadline) throws Exception {
        switch (scenario) {
            case "sync": return driveThreads(() -> check(p.send(new Message(topic, body))), maxCalls, 1, deadline);
            case "async":
            case "autobatch": return driveAsync(p, topic, body, maxCalls, concurrency, deadline);
            case "batch": return driveThreads(() -> {
                List<Message> batch = new ArrayList<>(batchTemplate.size());
                for (int i = 0; i < batchTemplate.size(); i++) batch.add(new Message(topic, body));
                check(p.send(batch));
            }, maxCalls, concurrency, deadline);
            default: throw new IllegalArgumentException("unknown scenario " + scenario);
        }
    }

    private static void check(SendResult r) {
        if (r.getSendStatus() != SendStatus.SEND_OK) throw new IllegalStateException("send status " + r.getSendStatus());
    }

    private static String produce(String namesrv, String topic, String warmTopic, int warm, String group, int bodyBytes, int messages,
                                  int maxSeconds, int concurrency, int batchSize) throws Exception {
        DefaultMQProducer p = new DefaultMQProducer(group);
        p.setNamesrvAddr(namesrv);
        p.setInstanceName(group + "_" + System.nanoTime());
        // RocketMQ 5's ProduceAccumulator (batchMaxDelayMs 10, batchMaxBytes 32 KiB by default).
        if (scenario.equals("autobatch")) p.setAutoBatch(true);
        p.start();
        try {
            byte[] body = new byte[bodyBytes];
            Arrays.fill(body, (byte) 0x61);
            boolean batch = scenario.equals("batch");
            int perCall = batch ? batchSize : 1;
            List<Message> template = new ArrayList<>();
            for (int i = 0; i < perCall; i++) template.add(null);
            Drive w = drive(p, warmTopic, body, template, Math.max(1, (warm + perCall - 1) / perCall), concurrency, System.nanoTime() + 10_000_000_000L);
            if (w.ok.get() == 0) throw new IllegalStateException("warm-up failed: " + w.samples);
            int calls = (messages + perCall - 1) / perCall;
            long start = System.nanoTime();
            Drive d = drive(p, topic, body, template, calls, concurrency, start + maxSeconds * 1_000_000_000L);
            double elapsedMs = (System.nanoTime() - start) / 1e6;
            int ok = d.ok.get();
            long sent = (long) ok * perCall;
            return "{\"kind\":\"producer\",\"client\":\"java\",\"scenario\":" + str(scenario) + ",\"notes\":" + str(NOTES)
                + ",\"errors\":" + d.errors.get() + ",\"errorSamples\":[" + joinStr(d.samples) + "],\"sent\":" + sent
                + ",\"elapsedMs\":" + elapsedMs + ",\"msgsPerSec\":" + (sent / (elapsedMs / 1000)) + ",\"latency\":" + latency(d.latNanos, ok)
                + ",\"deadlineHit\":" + d.deadlineHit + "}";
        } finally {
            p.shutdown();
        }
    }

    private static String joinStr(List<String> xs) {
        StringBuilder b = new StringBuilder();
        for (String x : xs) { if (b.length() > 0) b.append(','); b.append(str(x)); }
        return b.toString();
    }

    private static String latency(long[] nanos, int n) {
        long[] s = Arrays.copyOf(nanos, n);
        Arrays.sort(s);
        double sum = 0;
        for (long v : s) sum += v;
        return "{\"count\":" + n + ",\"meanMs\":" + (n > 0 ? sum / n / 1e6 : 0) + ",\"p50Ms\":" + pct(s, 50) + ",\"p99Ms\":" + pct(s, 99)
            + ",\"p999Ms\":" + pct(s, 99.9) + ",\"maxMs\":" + (n > 0 ? s[n - 1] / 1e6 : 0) + "}";
    }

    private static double pct(long[] sorted, double p) {
        if (sorted.length == 0) return 0;
        int rank = (int) Math.ceil(p / 100 * sorted.length);
        return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] / 1e6;
    }

    private static String drain(String namesrv, String topic, String group, int expected, int maxSeconds) throws Exception {
        Set<Long> seen = ConcurrentHashMap.newKeySet();
        AtomicInteger dups = new AtomicInteger();
        AtomicLong firstAt = new AtomicLong();
        AtomicLong lastAt = new AtomicLong();
        CountDownLatch done = new CountDownLatch(1);
        long started = System.nanoTime();
        DefaultMQPushConsumer c = new DefaultMQPushConsumer(group);
        c.setNamesrvAddr(namesrv);
        c.setInstanceName(group + "_" + System.nanoTime());
        c.setConsumeFromWhere(ConsumeFromWhere.CONSUME_FROM_FIRST_OFFSET);
        c.subscribe(topic, "*");
        c.registerMessageListener((MessageListenerConcurrently) (msgs, ctx) -> {
            long now = System.nanoTime();
            firstAt.compareAndSet(0, now);
            for (MessageExt m : msgs) {
                long key = ((long) m.getQueueId() << 32) + m.getQueueOffset();
                if (!seen.add(key)) dups.incrementAndGet();
                else lastAt.set(now);
            }
            if (seen.size() >= expected) done.countDown();
            return ConsumeConcurrentlyStatus.CONSUME_SUCCESS;
        });
        c.start();
        done.await(maxSeconds, TimeUnit.SECONDS);
        c.shutdown();
        int unique = seen.size();
        double elapsedMs = unique > 1 ? (lastAt.get() - firstAt.get()) / 1e6 : 0;
        return "{\"kind\":\"drain\",\"client\":\"java\",\"scenario\":\"drain\",\"notes\":" + str(NOTES) + ",\"errors\":0,\"errorSamples\":["
            + (unique < expected ? str("drained " + unique + " of " + expected + " within " + maxSeconds + " s") : "") + "],\"expected\":" + expected
            + ",\"unique\":" + unique + ",\"duplicates\":" + dups.get() + ",\"startToFirstMs\":" + (firstAt.get() > 0 ? (firstAt.get() - started) / 1e6 : 0)
            + ",\"elapsedMs\":" + elapsedMs + ",\"msgsPerSec\":" + (elapsedMs > 0 ? unique / (elapsedMs / 1000) : 0) + ",\"complete\":" + (unique >= expected) + "}";
    }
}
