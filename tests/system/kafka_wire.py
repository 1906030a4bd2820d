"""A minimal Kafka protocol client for hostile-input system tests (raw sockets, stdlib only).

Builds request frames and RecordBatch v2 bytes by hand so that tests can send exactly the
malformed input they mean to; real-client behaviour is tested with kcat and confluent-kafka.
"""

import socket
import struct


def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def varint(v):
    u = (v << 1) ^ (v >> 63)
    out = b""
    while u >= 0x80:
        out += bytes([(u & 0x7F) | 0x80])
        u >>= 7
    return out + bytes([u])


def record_batch(values, timestamp=1700000000000, producer_id=-1, epoch=-1, base_sequence=-1):
    """One uncompressed RecordBatch v2 holding `values` (bytes), keys null."""
    records = b""
    for i, v in enumerate(values):
        body = b"\x00" + varint(0) + varint(i) + varint(-1) + varint(len(v)) + v + varint(0)
        records += varint(len(body)) + body
    after_crc = struct.pack(">hiqqqhii", 0, len(values) - 1, timestamp, timestamp, producer_id, epoch,
                            base_sequence, len(values)) + records
    crc = crc32c(after_crc)
    rest = struct.pack(">ib", 0, 2) + struct.pack(">I", crc) + after_crc
    return struct.pack(">qi", 0, len(rest)) + rest


def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def request(api_key, version, correlation, body, client="hostile-test"):
    payload = struct.pack(">hhi", api_key, version, correlation) + string(client) + body
    return struct.pack(">i", len(payload)) + payload


def produce_v3_body(topic, partition, batch, acks=-1):
    return (struct.pack(">h", -1) + struct.pack(">hi", acks, 5000) + struct.pack(">i", 1) + string(topic)
            + struct.pack(">i", 1) + struct.pack(">i", partition) + struct.pack(">i", len(batch)) + batch)


def parse_produce_v3(body):
    """Returns [(topic, partition, error, base_offset)] of a Produce v3 response body."""
    out = []
    pos = 0
    (n,) = struct.unpack_from(">i", body, pos)
    pos += 4
    for _ in range(n):
        (ln,) = struct.unpack_from(">h", body, pos)
        topic = body[pos + 2:pos + 2 + ln].decode()
        pos += 2 + ln
        (m,) = struct.unpack_from(">i", body, pos)
        pos += 4
        for _ in range(m):
            part, err, base, _append_time = struct.unpack_from(">ihqq", body, pos)
            pos += 22
            out.append((topic, part, err, base))
    return out


def fetch_v4_body(topic, partition, offset, max_wait_ms, min_bytes=1, max_bytes=1 << 20):
    return (struct.pack(">iiiib", -1, max_wait_ms, min_bytes, max_bytes, 0) + struct.pack(">i", 1) + string(topic)
            + struct.pack(">i", 1) + struct.pack(">iqi", partition, offset, max_bytes))


def parse_fetch_v4(body):
    """Returns [(topic, partition, error, high_watermark, record bytes)] of a Fetch v4 response body."""
    out = []
    pos = 4  # throttle_time_ms
    (n,) = struct.unpack_from(">i", body, pos)
    pos += 4
    for _ in range(n):
        (ln,) = struct.unpack_from(">h", body, pos)
        topic = body[pos + 2:pos + 2 + ln].decode()
        pos += 2 + ln
        (m,) = struct.unpack_from(">i", body, pos)
        pos += 4
        for _ in range(m):
            part, err, hw, _lso = struct.unpack_from(">ihqq", body, pos)
            pos += 22
            (aborted,) = struct.unpack_from(">i", body, pos)
            pos += 4 + max(aborted, 0) * 16
            (size,) = struct.unpack_from(">i", body, pos)
            pos += 4
            records = body[pos:pos + max(size, 0)]
            pos += max(size, 0)
            out.append((topic, part, err, hw, records))
    return out


class Conn:
    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)

    def send(self, data):
        self.sock.sendall(data)

    def recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return buf

    def response(self):
        """(correlation id, body) of the next response, or None if the server closed."""
        head = self.recv_exact(4)
        if head is None:
            return None
        (size,) = struct.unpack(">i", head)
        payload = self.recv_exact(size)
        if payload is None:
            return None
        return struct.unpack(">i", payload[:4])[0], payload[4:]

    def closed_by_server(self):
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


def api_versions_v0(conn, correlation=1):
    """Sends ApiVersions v0 and returns (error, {api_key: (min, max)})."""
    conn.send(request(18, 0, correlation, b""))
    corr, body = conn.response()
    assert corr == correlation, (corr, correlation)
    err, n = struct.unpack_from(">hi", body, 0)
    apis = {}
    for i in range(n):
        key, lo, hi = struct.unpack_from(">hhh", body, 6 + 6 * i)
        apis[key] = (lo, hi)
    return err, apis
