#!/usr/bin/env python3
"""The memory attack of issue 9, against a running tmm-webhook: N connections each announce a body of
SIZE bytes and send all but its last byte, then hold. Prints how many bodies the server took, how many it
refused (503), the server's resident memory before, during and after, and whether a real review still got
through during the attack.

Usage: bench/hold-bodies.py PID PORT [CONNECTIONS=100] [SIZE=7340032] [REVIEW=samples/label.json]
"""
import socket, ssl, sys, threading, time

pid, port = int(sys.argv[1]), int(sys.argv[2])
conns = int(sys.argv[3]) if len(sys.argv) > 3 else 100
size = int(sys.argv[4]) if len(sys.argv) > 4 else 7 * 1024 * 1024
review = open(sys.argv[5] if len(sys.argv) > 5 else "samples/label.json", "rb").read()

def rss_mib():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return -1

context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE

def connect():
    raw = socket.create_connection(("127.0.0.1", port), timeout=20)
    return context.wrap_socket(raw, server_hostname="localhost")

results = {"held": 0, "refused": 0, "other": 0}
lock = threading.Lock()
held = []

def attacker():
    try:
        s = connect()
        s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size)
        chunk = b"a" * 65536
        left = size - 1
        try:
            while left > 0:
                n = min(left, len(chunk))
                s.sendall(chunk[:n])
                left -= n
        except (ssl.SSLError, OSError):
            pass
        if left == 0:
            with lock:
                results["held"] += 1
                held.append(s)
            return
        try:
            answer = s.recv(4096)
        except (ssl.SSLError, OSError):
            answer = b""
        with lock:
            results["refused" if answer.startswith(b"HTTP/1.1 503") else "other"] += 1
    except Exception:
        with lock:
            results["other"] += 1

def review_once():
    s = connect()
    s.sendall(b"POST /validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(review) + review)
    data = b""
    start = time.monotonic()
    while b"\r\n\r\n" not in data:
        data += s.recv(65536)
    s.close()
    return data.split(b"\r\n", 1)[0].decode(), time.monotonic() - start

before = rss_mib()
threads = [threading.Thread(target=attacker) for _ in range(conns)]
for t in threads: t.start()
for t in threads: t.join()
during = rss_mib()
status, seconds = review_once()
print(f"connections {conns}, body {size} bytes: held {results['held']}, refused with 503 {results['refused']}, other {results['other']}")
print(f"review during the attack: {status} in {seconds * 1000:.1f} ms")
print(f"resident memory: before {before:.1f} MiB, during {during:.1f} MiB")
for s in held: s.close()
time.sleep(2)
print(f"resident memory 2 s after the attackers left: {rss_mib():.1f} MiB")
