"""The chaos test's input and queries: a seeded, deterministic stream of orders and payments
with skewed keys, out-of-order event times, resent duplicates and a few events far too late,
cut into ingest requests that each carry an Idempotency-Key.

Why the disorder is bounded the way it is: whether an event is late depends on the watermark
the view had when it read the event, and that watermark moves at round boundaries, which differ
between a crash-free run and one that restarts (a restored checkpoint, a replay from the start
that reads up to 1 MiB per partition per round). So the input is built so that lateness does
not depend on where rounds end:
- an ordinary event (and every resent copy of it) arrives at most MAX_DISORDER after the
  latest event time ingested before it, and MAX_DISORDER < WATERMARK_DELAY: it is on time
  under any schedule, even for EMIT ON WINDOW CLOSE;
- a "too late" event is a day older than every other event and only appears after
  TOO_LATE_AFTER of the input (several MiB into each partition, padded by `memo`), when any
  schedule has had a round boundary after events that moved the watermark past it: it is
  late under any schedule.
"""

import datetime
import json
import random

T0 = datetime.datetime(2026, 3, 1, tzinfo=datetime.timezone.utc)
WATERMARK_DELAY_S = 45
MAX_DISORDER_S = 30           # jitter of arrival + delay of a resent copy, both bounded below
JITTER_S = 15
RESEND_DELAY_S = 15
DUPLICATE_FRACTION = 0.05
TOO_LATE_FRACTION = 0.004
TOO_LATE_AFTER = 0.6          # of the orders, in arrival order
CUSTOMERS = 60
REGIONS = ("eu", "us", "apac", "latam")
METHODS = ("card", "wire", "wallet")
MEMO_BYTES = 400              # padding: views never read it; it makes the log big per event

assert JITTER_S + RESEND_DELAY_S <= MAX_DISORDER_S < WATERMARK_DELAY_S

IDLE_TIMEOUT = "2 seconds"
DDL = [
    # Topics first, so that the partition counts are ours (orders: 2 partitions by customer).
    ("topic", {"name": "orders", "partitions": 2, "key": "customer"}),
    ("topic", {"name": "payments", "partitions": 1}),
    "CREATE SOURCE orders (event_id VARCHAR, order_id BIGINT, customer VARCHAR, region VARCHAR, amount BIGINT, "
    "ts TIMESTAMP, memo VARCHAR, WATERMARK FOR ts AS ts - INTERVAL '%d' SECOND) "
    "WITH (topic = 'orders', dedup_key = 'event_id', dedup_window = '1 hour', idle_timeout = '%s')"
    % (WATERMARK_DELAY_S, IDLE_TIMEOUT),
    # The same topic without dedup: the dedup views below remove the repeats themselves.
    "CREATE SOURCE orders_raw (event_id VARCHAR, order_id BIGINT, customer VARCHAR, region VARCHAR, amount BIGINT, "
    "ts TIMESTAMP, memo VARCHAR, WATERMARK FOR ts AS ts - INTERVAL '%d' SECOND) "
    "WITH (topic = 'orders', idle_timeout = '%s')" % (WATERMARK_DELAY_S, IDLE_TIMEOUT),
    "CREATE SOURCE payments (event_id VARCHAR, order_id BIGINT, amount BIGINT, method VARCHAR, ts TIMESTAMP, memo VARCHAR, "
    "WATERMARK FOR ts AS ts - INTERVAL '%d' SECOND) WITH (topic = 'payments', idle_timeout = '%s')"
    % (WATERMARK_DELAY_S, IDLE_TIMEOUT),
]

TUMBLE = ("SELECT customer, window_start, window_end, count(*) AS n, sum(amount) AS total, max(amount) AS top "
          "FROM TUMBLE(orders, ts, INTERVAL '1' MINUTE) GROUP BY customer, window_start, window_end")
HOP = ("SELECT region, window_start, window_end, count(*) AS n, sum(amount) AS total, min(amount) AS low "
       "FROM HOP(orders, ts, INTERVAL '30' SECOND, INTERVAL '2' MINUTE) GROUP BY region, window_start, window_end")
SESSION = ("SELECT customer, window_start, window_end, count(*) AS n, sum(amount) AS total "
           "FROM SESSION(orders, ts, INTERVAL '20' SECOND) GROUP BY customer, window_start, window_end")
JOIN = ("SELECT o.order_id, o.customer, o.amount, p.amount AS paid, p.method FROM orders o JOIN payments p "
        "ON o.order_id = p.order_id AND p.ts BETWEEN o.ts AND o.ts + INTERVAL '2' MINUTE")
EOWC = ("SELECT region, window_start, window_end, count(*) AS n, sum(amount) AS total "
        "FROM TUMBLE(orders, ts, INTERVAL '1' MINUTE) GROUP BY region, window_start, window_end EMIT ON WINDOW CLOSE")

# name -> query; every one is compared row for row.
VIEWS = {
    "v_tumble": TUMBLE,
    "v_hop": HOP,
    "v_session": SESSION,
    "v_join": JOIN,
    "v_dedup": "SELECT DISTINCT ON (event_id) event_id, order_id, customer, amount, ts FROM orders_raw",
    "v_first": ("SELECT event_id, customer, amount FROM (SELECT event_id, customer, amount, ROW_NUMBER() OVER "
                "(PARTITION BY event_id ORDER BY ts) AS rn FROM orders_raw) t WHERE rn = 1"),
    "v_top3": ("SELECT customer, order_id, amount FROM (SELECT customer, order_id, amount, ROW_NUMBER() OVER "
               "(PARTITION BY customer ORDER BY amount DESC) AS rn FROM orders) t WHERE rn <= 3"),
    "v_raw": "SELECT customer, count(*) AS n, count(DISTINCT event_id) AS ids, sum(amount) AS total FROM orders_raw GROUP BY customer",
    "v_eowc": EOWC,
    "v_hop_eowc": ("SELECT window_start, window_end, count(*) AS n, max(amount) AS top "
                   "FROM HOP(payments, ts, INTERVAL '30' SECOND, INTERVAL '1' MINUTE) GROUP BY window_start, window_end "
                   "EMIT ON WINDOW CLOSE"),
    # Sessions that close: with 1 s of allowed lateness, a session is forgotten (SESSION rows and the
    # aggregate's group) once the watermark passes its end. Lateness still does not depend on
    # the schedule: ordinary events are at most MAX_DISORDER < WATERMARK_DELAY - 1 s behind.
    "v_session_closing": SESSION,
    # A view over a view (not checkpointed itself: rebuilt from v_tumble's restored rows).
    "v_per_customer": "SELECT customer, count(*) AS windows, sum(n) AS n, sum(total) AS total FROM v_tumble GROUP BY customer",
}

VIEW_OPTIONS = {"v_session_closing": " WITH (allowed_lateness = '1 second')"}

# name -> (topic, query); EOWC sinks are append-only and compared record for record.
SINKS = {
    "s_eowc": ("chaos_eowc", EOWC),
    "s_tumble": ("chaos_tumble", TUMBLE),
    "s_session": ("chaos_session", SESSION),
    "s_join": ("chaos_join", JOIN),
}
APPEND_ONLY_SINKS = {"s_eowc"}


def statements():
    """The DDL in order: ("topic", body) for POST /v1/topics, else SQL text."""
    out = list(DDL)
    out += ["CREATE MATERIALIZED VIEW %s%s AS %s" % (name, VIEW_OPTIONS.get(name, ""), query)
            for name, query in VIEWS.items()]
    out += ["CREATE SINK %s INTO %s AS %s" % (name, topic, query) for name, (topic, query) in SINKS.items()]
    return out


def _ts(seconds):
    return (T0 + datetime.timedelta(seconds=seconds)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Workload:
    """The whole input of one seed: `requests` is a list of (topic, idempotency key, NDJSON body,
    event count) in the order they are sent; `too_late` the event ids that must end up late."""

    def __init__(self, seed, orders):
        rng = random.Random(seed)
        # Skew: customer c0 is the hottest (Zipf-like weights).
        weights = [1.0 / (i + 1) ** 1.1 for i in range(CUSTOMERS)]
        arrivals = []  # (arrival time s, tiebreak, topic, event)
        self.too_late = set()
        t = 0.0
        seq = 0
        for order_id in range(orders):
            t += rng.expovariate(20.0)  # about 20 orders per second of event time
            customer = "c%d" % rng.choices(range(CUSTOMERS), weights)[0]
            order = {"event_id": "o%d" % order_id, "order_id": order_id, "customer": customer,
                     "region": REGIONS[int(customer[1:]) % len(REGIONS)],
                     "amount": rng.randint(1, 500) * 100 + rng.choice((0, 99)), "ts": _ts(t),
                     "memo": "".join(rng.choice("abcdefghij") for _ in range(16)) * (MEMO_BYTES // 16)}
            arrive = t + rng.uniform(0, JITTER_S)
            copies = [arrive]
            if rng.random() < DUPLICATE_FRACTION:
                copies.append(arrive + rng.uniform(0.5, RESEND_DELAY_S))  # the same event resent
            for a in copies:
                seq += 1
                arrivals.append((a, seq, "orders", order))
            if rng.random() < 0.8:  # most orders are paid, some after the join's interval
                pay_t = t + rng.uniform(0, 150)
                payment = {"event_id": "p%d" % order_id, "order_id": order_id, "amount": order["amount"],
                           "method": rng.choice(METHODS), "ts": _ts(pay_t), "memo": order["memo"]}
                seq += 1
                arrivals.append((pay_t + rng.uniform(0, JITTER_S), seq, "payments", payment))
                if rng.random() < DUPLICATE_FRACTION:  # payments has no dedup: the join sees both
                    seq += 1
                    arrivals.append((pay_t + rng.uniform(0, JITTER_S) + rng.uniform(0.5, RESEND_DELAY_S), seq,
                                     "payments", payment))
        arrivals.sort(key=lambda a: (a[0], a[1]))
        # Too-late events: a day old, only in the last part of the input.
        first_late = int(len(arrivals) * TOO_LATE_AFTER)
        n_late = max(3, int(orders * TOO_LATE_FRACTION))
        for i in range(n_late):
            pos = rng.randint(first_late, len(arrivals))
            topic = "orders" if i % 3 else "payments"
            event_id = "late%d" % i
            old = -86400 + rng.uniform(0, 600)
            if topic == "orders":
                customer = "c%d" % rng.randrange(CUSTOMERS)
                event = {"event_id": event_id, "order_id": 10**9 + i, "customer": customer, "region": "eu",
                         "amount": 1, "ts": _ts(old), "memo": "late"}
            else:
                event = {"event_id": event_id, "order_id": 10**9 + i, "amount": 1, "method": "card", "ts": _ts(old),
                         "memo": "late"}
            arrivals.insert(pos, (None, None, topic, event))
            self.too_late.add((topic, event_id))
        self.events = [(topic, event) for _, _, topic, event in arrivals]
        # Requests: runs of consecutive arrivals, split by topic (keeps per-topic order).
        self.requests = []
        i = 0
        while i < len(self.events):
            n = rng.randint(10, 120)
            chunk = self.events[i:i + n]
            i += n
            for topic in ("orders", "payments"):
                lines = [json.dumps(e, separators=(",", ":")) for tp, e in chunk if tp == topic]
                if lines:
                    key = "chaos-%d-%s-%d" % (seed, topic, len(self.requests))
                    self.requests.append((topic, key, "\n".join(lines) + "\n", len(lines)))
        self._check_disorder()

    def _check_disorder(self):
        """The premise of the module docstring, checked on the generated input."""
        for topic in ("orders", "payments"):
            latest = None
            for tp, e in self.events:
                if tp != topic or e["event_id"].startswith("late"):
                    continue
                t = datetime.datetime.fromisoformat(e["ts"].replace("Z", "+00:00"))
                if latest is not None:
                    assert (latest - t).total_seconds() <= MAX_DISORDER_S, (topic, e)
                latest = t if latest is None else max(latest, t)
