#!/usr/bin/env python3
"""Resident memory of idle keep-alive connections.

    swift build -c release --product tmm-webhook
    bench/idle-connections.py [--connections 1000] [--webhook .build/release/tmm-webhook]

Starts the webhook (no cluster: the allow path needs none) with a throwaway certificate, opens
--connections TLS connections, sends one 21.5 KB Node update review on each (the request of
../shared/bench/make_review.py when it is there, else samples/label.json), reads each answer, keeps
every connection open and idle, and prints the server's VmRSS before and after. Raise the
descriptor limit first (`ulimit -n 4096`). Python standard library only; openssl on PATH.
"""
import argparse, os, socket, ssl, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def review_body():
    maker = os.path.join(ROOT, "..", "shared", "bench", "make_review.py")
    if os.path.exists(maker):
        return subprocess.run([sys.executable, maker, "label"], check=True, capture_output=True).stdout
    with open(os.path.join(ROOT, "samples", "label.json"), "rb") as f:
        return f.read()


def read_answer(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before the answer")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:"))
    while len(rest) < length:
        rest += sock.recv(65536)
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"answer {head.splitlines()[0]!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--webhook", default=os.path.join(ROOT, ".build", "release", "tmm-webhook"))
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="tmm-idle-")
    cert, key = f"{work}/cert.pem", f"{work}/key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    body = review_body()
    request = (b"POST /validate HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(body)) + body
    context = ssl.create_default_context(cafile=cert)
    server = subprocess.Popen([args.webhook, "serve", "--listen", f"127.0.0.1:{port}", "--tls-cert", cert, "--tls-key", key,
                               "--log-level", "warning"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    connections = []
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    sys.exit("the webhook did not start")
                time.sleep(0.1)
        time.sleep(0.3)
        before = vm_rss_kb(server.pid)
        for _ in range(args.connections):
            sock = context.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
            sock.sendall(request)
            read_answer(sock)
            connections.append(sock)
        time.sleep(1)
        after = vm_rss_kb(server.pid)
        print(f"{args.connections} idle connections, one {len(body)}-byte review each: VmRSS {before} kB -> {after} kB "
              f"(+{(after - before) / 1024:.1f} MB, {(after - before) / args.connections:.1f} kB a connection)")
    finally:
        for sock in connections:
            sock.close()
        server.kill()
        server.wait()


if __name__ == "__main__":
    main()
