// kafkajs against sluice: admin CreateTopics, a producer, and a consumer group of three
// members that rebalances when one leaves. Prints one JSON line with what each phase saw;
// tests/system/test_kafka.py checks it. Usage: node group.mjs HOST:PORT TOPIC
import { Kafka, logLevel } from "kafkajs";

const [broker, topic] = process.argv.slice(2);
const kafka = new Kafka({ clientId: "sluice-test", brokers: [broker], logLevel: logLevel.NOTHING });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(cond, ms, what) {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for " + what);
    await sleep(50);
  }
}

const admin = kafka.admin();
await admin.connect();
await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
const listed = await admin.listTopics();
await admin.disconnect();

const producer = kafka.producer();
await producer.connect();
const send = async (prefix, n) => {
  for (let i = 0; i < n; i += 50) {
    const messages = [];
    for (let j = i; j < Math.min(n, i + 50); j++) messages.push({ key: `k${j}`, value: `${prefix}${j}` });
    await producer.send({ topic, messages });
  }
};

const seen = new Map();  // value -> count, over all members
const assigned = [new Set(), new Set(), new Set()];
const members = [];
for (let m = 0; m < 3; m++) {
  const consumer = kafka.consumer({ groupId: "js-group", sessionTimeout: 10000, heartbeatInterval: 500,
                                    rebalanceTimeout: 10000 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    assigned[m] = new Set(e.payload.memberAssignment[topic] || []);
  });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const v = message.value.toString();
      seen.set(v, (seen.get(v) || 0) + 1);
    },
  });
  members.push(consumer);
}
await waitFor(() => assigned.every((s) => s.size === 1), 30000, "three members with one partition each");
const phase1 = assigned.map((s) => [...s].sort());
await send("a", 300);
await waitFor(() => [...seen.keys()].filter((v) => v.startsWith("a")).length === 300, 30000, "300 messages");

await members[2].disconnect();  // LeaveGroup: the other two take its partition
assigned[2] = new Set();
await waitFor(() => assigned[0].size + assigned[1].size === 3, 30000, "two members with all partitions");
const phase2 = assigned.slice(0, 2).map((s) => [...s].sort());
await send("b", 100);
await waitFor(() => [...seen.keys()].filter((v) => v.startsWith("b")).length === 100, 30000, "100 more messages");
await sleep(500);

await members[0].disconnect();
await members[1].disconnect();
await producer.disconnect();
const duplicates = [...seen.values()].filter((c) => c > 1).length;
console.log(JSON.stringify({ listed: listed.includes(topic), phase1, phase2, seen: seen.size, duplicates }));
