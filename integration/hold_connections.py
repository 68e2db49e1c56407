#!/usr/bin/env python3
"""Open N authenticated MySQL-protocol connections and hold them open.

Used by integration/bench.sh to measure shardgate's memory per idle client
connection. Standard library only: it speaks just enough of the protocol to
log in with mysql_native_password (following an auth switch request if the
server sends one).

    hold_connections.py [--partial] HOST PORT USER PASSWORD COUNT READY_FILE [HOLD_SECONDS]

When all COUNT connections are logged in it writes "ready COUNT" to READY_FILE,
then holds them for HOLD_SECONDS (default 300) or until killed. On a failure it
writes "error: ..." to READY_FILE and exits 1; with --partial (used by
integration/bench_mux.sh) it writes "partial K of COUNT: ..." instead and holds
the K connections it has, so that the caller can still measure them.
"""

import hashlib
import os
import resource
import socket
import struct
import sys
import time

CLIENT_LONG_PASSWORD = 0x00000001
CLIENT_PROTOCOL_41 = 0x00000200
CLIENT_TRANSACTIONS = 0x00002000
CLIENT_SECURE_CONNECTION = 0x00008000
CLIENT_PLUGIN_AUTH = 0x00080000
UTF8MB4_GENERAL_CI = 45


def read_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("server closed the connection")
        data += chunk
    return data


def read_packet(sock):
    header = read_exact(sock, 4)
    length = header[0] | (header[1] << 8) | (header[2] << 16)
    return header[3], read_exact(sock, length)


def write_packet(sock, seq, payload):
    sock.sendall(struct.pack("<I", len(payload))[:3] + bytes([seq & 0xFF]) + payload)


def native_password_token(password, salt):
    if not password:
        return b""
    stage1 = hashlib.sha1(password.encode()).digest()
    stage2 = hashlib.sha1(stage1).digest()
    mix = hashlib.sha1(salt + stage2).digest()
    return bytes(a ^ b for a, b in zip(stage1, mix))


def error_text(payload):
    code = struct.unpack("<H", payload[1:3])[0]
    message = payload[3:]
    if message.startswith(b"#"):
        message = message[6:]
    return f"server error {code}: {message.decode(errors='replace')}"


def parse_greeting(payload):
    """Return the 20-byte auth salt from an initial handshake (protocol 10)."""
    if payload[0] == 0xFF:
        raise ConnectionError(error_text(payload))
    if payload[0] != 10:
        raise ConnectionError(f"unexpected protocol version {payload[0]}")
    pos = payload.index(b"\0", 1) + 1  # skip server version
    pos += 4  # connection id
    salt = payload[pos:pos + 8]
    pos += 8 + 1  # salt part 1, filler
    pos += 2 + 1 + 2 + 2  # capabilities (low), charset, status, capabilities (high)
    salt_len = payload[pos]
    pos += 1 + 10  # salt length, reserved
    part2_len = max(13, salt_len - 8)
    salt += payload[pos:pos + part2_len].rstrip(b"\0")
    return salt


def connect(host, port, user, password):
    sock = socket.create_connection((host, port), timeout=30)
    _, greeting = read_packet(sock)
    salt = parse_greeting(greeting)

    caps = (CLIENT_LONG_PASSWORD | CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS
            | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH)
    token = native_password_token(password, salt)
    response = struct.pack("<IIB", caps, 16 * 1024 * 1024, UTF8MB4_GENERAL_CI)
    response += b"\0" * 23
    response += user.encode() + b"\0"
    response += bytes([len(token)]) + token
    response += b"mysql_native_password\0"
    write_packet(sock, 1, response)

    seq, reply = read_packet(sock)
    if reply[0] == 0xFE:  # auth switch request: plugin name, then new salt
        plugin_end = reply.index(b"\0", 1)
        plugin = reply[1:plugin_end].decode()
        if plugin != "mysql_native_password":
            raise ConnectionError(f"server asked for unsupported auth plugin {plugin}")
        new_salt = reply[plugin_end + 1:].rstrip(b"\0")
        write_packet(sock, seq + 1, native_password_token(password, new_salt))
        seq, reply = read_packet(sock)
    if reply[0] == 0xFF:
        raise ConnectionError(error_text(reply))
    if reply[0] != 0x00:
        raise ConnectionError(f"unexpected reply to login: 0x{reply[0]:02x}")
    sock.settimeout(None)
    return sock


def report(ready_file, line):
    """Write LINE to READY_FILE in one step (the waiting script polls for it)."""
    tmp = ready_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(line + "\n")
    os.replace(tmp, ready_file)


def main():
    args = sys.argv[1:]
    partial = bool(args) and args[0] == "--partial"
    if partial:
        args = args[1:]
    if len(args) not in (6, 7):
        sys.exit(__doc__)
    host, port, user, password = args[0], int(args[1]), args[2], args[3]
    count, ready_file = int(args[4]), args[5]
    hold_seconds = float(args[6]) if len(args) == 7 else 300.0

    # Each connection is one file descriptor; the usual soft limit is 1024.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    connections = []
    try:
        for _ in range(count):
            connections.append(connect(host, port, user, password))
    except Exception as exc:  # report any failure to the waiting script
        if not partial:
            report(ready_file, f"error: connection {len(connections) + 1} of {count}: {exc}")
            sys.exit(1)
        report(ready_file, f"partial {len(connections)} of {count}: connection "
                           f"{len(connections) + 1} failed: {exc}")
        time.sleep(hold_seconds)
        return

    report(ready_file, f"ready {len(connections)}")
    time.sleep(hold_seconds)


if __name__ == "__main__":
    main()
