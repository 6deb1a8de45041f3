#!/usr/bin/env python3
"""What one pod write costs the real kube-apiserver, and how late a watch shows it.

    ../shared/kube-apiserver/install.sh
    bench/apiserver-write-cost.py [--pods 30] [--rounds 30]

Starts etcd and kube-apiserver on loopback (the same control plane as bench/real-apiserver.py), creates
--pods pods, and then, with --pods requests in flight at a time (as a refusal patches every pod of its
node at once), reports for each kind of request the API server's and etcd's CPU per request (from
/proc) and the wall time of each round:

  * a GET of the pod (the floor: TLS, HTTP, authentication, authorization, encoding);
  * a merge patch that changes nothing (everything of a write but the etcd transaction);
  * the webhook's patch (a merge patch of two annotations), answered in JSON, in protobuf, and as
    metadata only (PartialObjectMetadata), and sent with fieldValidation=Ignore;
  * the same change as a JSON patch (RFC 6902).

Then, with a watch open on the pods (a client of its own thread, reading the stream as it comes), the
delay between each patch's answer and the watch event carrying its resourceVersion: the time "an event
already on the wire" takes, which the freshness check's quiet wait must cover. The watcher is Python,
so its own scheduling is part of the delay: read it as an upper bound.

Python standard library only; openssl on PATH. Traffic stays on 127.0.0.1.
"""
import argparse, http.client, importlib.util, json, os, shutil, ssl, sys, tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("real_apiserver", os.path.join(HERE, "real-apiserver.py"))
real_apiserver = importlib.util.module_from_spec(spec)
spec.loader.exec_module(real_apiserver)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pods", type=int, default=30, help="pods, and requests in flight at a time")
    parser.add_argument("--rounds", type=int, default=30, help="rounds of one request per pod, per kind")
    parser.add_argument("--apiserver", default=os.environ.get("TMM_KUBE_APISERVER", "/tmp/kube-apiserver-v1.36.2/kube-apiserver"))
    args = parser.parse_args()
    etcd = shutil.which("etcd")
    if not etcd or not os.access(args.apiserver, os.X_OK):
        sys.exit("no etcd or kube-apiserver: run ../shared/kube-apiserver/install.sh")
    directory = tempfile.mkdtemp(prefix="tmm-write-cost-")
    cp = real_apiserver.ControlPlane(directory, args.apiserver, etcd)
    try:
        cp.start()
        run(cp, args)
    finally:
        cp.stop()
        shutil.rmtree(directory, ignore_errors=True)


def run(cp, args):
    api, n = cp.api, args.pods
    context = ssl.create_default_context(cafile=cp.ca)
    auth = {"Authorization": f"Bearer {cp.admin_token}"}

    def create(i):
        api.call("POST", "/api/v1/namespaces/default/pods", {
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "labels": {"app": f"a{i}"}, "annotations": {"x": "y"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "app", "image": "registry.invalid/app:1",
                                                       "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}})
        api.call("PATCH", f"/api/v1/namespaces/default/pods/p{i}/status",
                 {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}, "application/merge-patch+json")

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(create, range(n)))

    local = threading.local()
    answers = []  # (resourceVersion, monotonic time the answer was read)

    def send(method, i, body=None, content_type=None, accept="application/json", query=""):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = http.client.HTTPSConnection("127.0.0.1", cp.port, context=context)
        headers = dict(auth, Accept=accept)
        if content_type:
            headers["Content-Type"] = content_type
        conn.request(method, f"/api/v1/namespaces/default/pods/p{i}{query}", body=body, headers=headers)
        response = conn.getresponse()
        text = response.read()
        at = time.monotonic()
        if response.status != 200:
            raise RuntimeError(f"{method} p{i}: {response.status} {text[:200]!r}")
        if accept == "application/json" and method == "PATCH":
            answers.append((json.loads(text)["metadata"]["resourceVersion"], at))

    def merge(value):
        return json.dumps({"metadata": {"annotations": {"emm-failure": value, "tmm-webhook.io/emm-failure-at": str(time.time_ns())}}}).encode()

    def json_patch(value):
        return json.dumps([{"op": "add", "path": "/metadata/annotations/emm-failure", "value": value},
                           {"op": "add", "path": "/metadata/annotations/tmm-webhook.io~1emm-failure-at", "value": str(time.time_ns())}]).encode()

    protobuf = "application/vnd.kubernetes.protobuf"
    # The answer as PartialObjectMetadata: the API server encodes the metadata only.
    metadata_only = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
    kinds = [
        ("GET", lambda i, r: send("GET", i)),
        ("merge patch, no change", lambda i, r: send("PATCH", i, b'{"metadata":{"annotations":{"x":"y"}}}', "application/merge-patch+json")),
        ("merge patch (the webhook's)", lambda i, r: send("PATCH", i, merge(f"v{r}"), "application/merge-patch+json")),
        ("merge patch, protobuf answer", lambda i, r: send("PATCH", i, merge(f"v{r}"), "application/merge-patch+json", protobuf)),
        ("merge patch, metadata answer", lambda i, r: send("PATCH", i, merge(f"w{r}"), "application/merge-patch+json", metadata_only)),
        ("merge patch, no field check", lambda i, r: send("PATCH", i, merge(f"x{r}"), "application/merge-patch+json", query="?fieldValidation=Ignore")),
        ("JSON patch", lambda i, r: send("PATCH", i, json_patch(f"v{r}"), "application/json-patch+json")),
    ]
    apiserver, etcd = cp.procs[1].pid, cp.procs[0].pid
    print(f"{n} pods, {n} requests in flight, {args.rounds} rounds per kind")
    with ThreadPoolExecutor(n) as pool:
        for name, call in kinds:
            cpu_api, cpu_etcd = real_apiserver.cpu_seconds(apiserver), real_apiserver.cpu_seconds(etcd)
            walls = []
            for r in range(args.rounds):
                started = time.monotonic()
                list(pool.map(lambda i: call(i, r), range(n)))
                walls.append((time.monotonic() - started) * 1000)
            requests = args.rounds * n
            cpu_api = (real_apiserver.cpu_seconds(apiserver) - cpu_api) * 1000 / requests
            cpu_etcd = (real_apiserver.cpu_seconds(etcd) - cpu_etcd) * 1000 / requests
            print(f"  {name:30s} kube-apiserver {cpu_api:.2f} ms CPU a request, etcd {cpu_etcd:.2f} ms; "
                  f"a round of {n}: {real_apiserver.summary(walls)}", flush=True)

        # The watch's delay: patches answered in JSON carry the resourceVersion the event will show.
        answers.clear()
        arrived = {}
        listed = api.call("GET", "/api/v1/namespaces/default/pods")["metadata"]["resourceVersion"]
        opened = threading.Event()

        def watch():
            conn = http.client.HTTPSConnection("127.0.0.1", cp.port, context=context)
            conn.request("GET", f"/api/v1/namespaces/default/pods?watch=1&resourceVersion={listed}", headers=auth)
            stream = conn.getresponse()
            opened.set()
            while True:
                line = stream.readline()
                if not line:
                    return
                at = time.monotonic()
                arrived[json.loads(line)["object"]["metadata"]["resourceVersion"]] = at

        threading.Thread(target=watch, daemon=True).start()
        opened.wait(10)
        time.sleep(0.5)
        for r in range(args.rounds * 2):
            list(pool.map(lambda i: send("PATCH", i, merge(f"w{r}"), "application/merge-patch+json"), range(n)))
        time.sleep(1)
    delays = [(arrived[rv] - at) * 1000 for rv, at in answers if rv in arrived]
    missing = len(answers) - len(delays)
    ordered = sorted(delays)
    if ordered:
        print(f"watch event after the patch's answer ({len(ordered)} patches, {missing} events not seen): "
              f"p50 {real_apiserver.percentile(ordered, 50):.1f} ms, p99 {real_apiserver.percentile(ordered, 99):.1f} ms, "
              f"p99.9 {real_apiserver.percentile(ordered, 99.9):.1f} ms, max {ordered[-1]:.1f} ms "
              f"(negative: the event came first)")


if __name__ == "__main__":
    main()
