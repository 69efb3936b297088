#!/usr/bin/env python3
"""Compare two Redis-protocol databases key by key (a Replica Of source and
its destination, say): SCAN both, then TYPE, PTTL and the value of every key,
pipelined. Exit 0 when they hold the same keys with the same types, values
and presence of a deadline; 1 with the first differences otherwise.

    scripts/compare-datasets.py --source 127.0.0.1:6379 --replica 127.0.0.1:6380
    scripts/compare-datasets.py --source 127.0.0.1:6379 --source-password pw \\
        --replica 127.0.0.1:6380 --replica-tls --cacert certs/ca.pem \\
        --cert certs/client1.pem --key certs/client1.key

Uses only the Python standard library; talks RESP2 over a plain or TLS socket.
"""

import argparse
import socket
import ssl
import sys

BATCH = 500


class Client:
    def __init__(self, address, password=None, tls=False, cacert=None, cert=None, key=None):
        host, port = address.rsplit(":", 1)
        sock = socket.create_connection((host.strip("[]"), int(port)), timeout=30)
        if tls:
            context = ssl.create_default_context(cafile=cacert)
            if cert:
                context.load_cert_chain(cert, key or cert)
            sock = context.wrap_socket(sock, server_hostname=host.strip("[]"))
        self.sock = sock
        self.buffer = b""
        if password:
            self.call([b"AUTH", password.encode()])

    def _line(self):
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def _exact(self, length):
        while len(self.buffer) < length + 2:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        data, self.buffer = self.buffer[:length], self.buffer[length + 2:]
        return data

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            length = int(rest)
            return None if length < 0 else self._exact(length)
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._reply() for _ in range(count)]
        raise RuntimeError("unexpected reply %r" % line)

    def pipeline(self, commands):
        out = bytearray()
        for args in commands:
            out += b"*%d\r\n" % len(args)
            for arg in args:
                arg = arg if isinstance(arg, bytes) else str(arg).encode()
                out += b"$%d\r\n%s\r\n" % (len(arg), arg)
        self.sock.sendall(out)
        return [self._reply() for _ in commands]

    def call(self, args):
        return self.pipeline([args])[0]


def dump(client):
    keys, cursor = set(), b"0"
    while True:
        cursor, batch = client.call([b"SCAN", cursor, b"COUNT", b"1000"])
        keys.update(batch)
        if cursor == b"0":
            break
    keys = sorted(keys)
    data = {}
    for start in range(0, len(keys), BATCH):
        batch = keys[start:start + BATCH]
        meta = client.pipeline([c for k in batch for c in ([b"TYPE", k], [b"PTTL", k])])
        reads = []
        for i, key in enumerate(batch):
            kind = meta[2 * i]
            reads.append({
                b"string": [b"GET", key],
                b"list": [b"LRANGE", key, b"0", b"-1"],
                b"set": [b"SMEMBERS", key],
                b"hash": [b"HGETALL", key],
                b"zset": [b"ZRANGE", key, b"0", b"-1", b"WITHSCORES"],
            }.get(kind, [b"EXISTS", key]))
        values = client.pipeline(reads)
        for i, key in enumerate(batch):
            kind, ttl, value = meta[2 * i], meta[2 * i + 1], values[i]
            if kind == b"none":
                continue  # expired between SCAN and TYPE
            if kind == b"set":
                value = sorted(value)
            elif kind == b"hash":
                value = sorted(zip(value[0::2], value[1::2]))
            data[key] = (kind, value, ttl >= 0)
    return data


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for side in ("source", "replica"):
        parser.add_argument("--" + side, required=True, help="host:port")
        parser.add_argument("--%s-password" % side)
        parser.add_argument("--%s-tls" % side, action="store_true")
    parser.add_argument("--cacert")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--show", type=int, default=10, help="differences to print")
    options = parser.parse_args()

    def connect(side):
        return Client(getattr(options, side), getattr(options, side + "_password"),
                      getattr(options, side + "_tls"), options.cacert, options.cert, options.key)

    source, replica = dump(connect("source")), dump(connect("replica"))
    differences = []
    for key in sorted(set(source) | set(replica)):
        left, right = source.get(key), replica.get(key)
        if left != right:
            differences.append((key, left, right))
    print("source: %d keys, replica: %d keys, differing: %d" % (len(source), len(replica), len(differences)))
    for key, left, right in differences[:options.show]:
        print("  %r: source %s, replica %s" % (key, left and left[0], right and right[0]))
    sys.exit(1 if differences else 0)


if __name__ == "__main__":
    main()
