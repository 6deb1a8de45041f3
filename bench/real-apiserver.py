#!/usr/bin/env python3
"""tmm-webhook in live mode at scale, against a real kube-apiserver and etcd on loopback.

    swift build -c release --product tmm-webhook
    ../shared/kube-apiserver/install.sh
    bench/real-apiserver.py [--nodes 1000] [--pods 30000] [--budgets 1000] [--entries 20] [--denials 5]

Starts etcd and kube-apiserver (the flags of ../shared/kube-apiserver/README.md) in a temporary
directory, applies the RBAC of deploy/base (the webhook runs as its ServiceAccount user, never
cluster-admin), loads nodes, pods bound to them (Running, Ready) and PodDisruptionBudgets with
concurrent API calls, starts the release webhook, registers it by URL with the base's rules and
matchConditions, and reports:

  * initial sync: from the webhook's start to /readyz (and the `listed` log lines),
  * resident memory (VmRSS, VmHWM) after the sync and after the churn,
  * CPU under pod churn (--churn-per-minute pod label updates a minute for --churn-seconds),
  * entry latency through kubectl (`kubectl taint node ... drain=planned-downtime:NoSchedule`, each node
    untainted before the next; wall time of kubectl) and the webhook's own `durationMs` from its
    decision log lines, p50/p99/max, for admitted entries and for refusals while another node is in
    maintenance. With --refusals concurrency (the default) the policy allows one node in maintenance, so
    each refusal is by the concurrency rule and annotates every pod of its node (30), confirmed at the
    source without the freshness check's wait. With --refusals quorum the policy allows two, and the
    refused nodes are ones that share an app with the node in maintenance: each refusal is by the quorum
    rule (the app's budget allows one replica down), waits for the freshness check and annotates the
    pods of that app on the node.

Python standard library only; kubectl, openssl and curl on PATH. Traffic stays on 127.0.0.1.
"""
import argparse, base64, http.client, json, os, random, shutil, signal, socket, ssl, subprocess, sys
import tempfile, threading, time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def percentile(values, p):
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


def summary(values):
    return f"n={len(values)} p50={percentile(values, 50):.1f} ms p99={percentile(values, 99):.1f} ms max={max(values) if values else float('nan'):.1f} ms"


class API:
    """Admin calls to the API server, one keep-alive connection per worker thread."""

    def __init__(self, port, ca, token):
        self.port, self.token = port, token
        self.context = ssl.create_default_context(cafile=ca)
        self.local = threading.local()

    def call(self, method, path, body=None, content_type="application/json", ok=(200, 201)):
        for attempt in range(5):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=60)
            try:
                data = None if body is None else json.dumps(body).encode()
                headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
                if data is not None:
                    headers["Content-Type"] = content_type
                conn.request(method, path, body=data, headers=headers)
                response = conn.getresponse()
                text = response.read()
                if response.status in ok:
                    return json.loads(text) if text else None
                if response.status in (409, 429, 500, 503) and attempt < 4:
                    time.sleep(0.2 * (attempt + 1))
                    continue
                raise RuntimeError(f"{method} {path}: {response.status} {text[:300]!r}")
            except (OSError, http.client.HTTPException):
                self.local.conn = None
                if attempt == 4:
                    raise
                time.sleep(0.2)


class ControlPlane:
    def __init__(self, directory, apiserver, etcd):
        self.dir, self.apiserver_bin, self.etcd_bin = directory, apiserver, etcd
        self.etcd_port, self.peer_port, self.port = free_port(), free_port(), free_port()
        self.admin_token, self.webhook_token = "bench-admin-" + os.urandom(8).hex(), "bench-webhook-" + os.urandom(8).hex()
        self.ca = f"{directory}/ca.crt"
        self.procs = []

    def cert(self, name, cn):
        d = self.dir
        with open(f"{d}/{name}.ext", "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
        run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr", "-subj", f"/CN={cn}"])
        run(["openssl", "x509", "-req", "-in", f"{d}/{name}.csr", "-CA", self.ca, "-CAkey", f"{d}/ca.key", "-CAcreateserial",
             "-out", f"{d}/{name}.crt", "-days", "2", "-extfile", f"{d}/{name}.ext"])
        return f"{d}/{name}.crt", f"{d}/{name}.key"

    def kubeconfig(self, path, user, token, namespace):
        with open(path, "w") as f:
            f.write(f"""apiVersion: v1
kind: Config
clusters:
- name: bench
  cluster: {{server: "https://127.0.0.1:{self.port}", certificate-authority: {self.ca}}}
users:
- name: {user}
  user: {{token: {token}}}
contexts:
- name: bench
  context: {{cluster: bench, user: {user}, namespace: {namespace}}}
current-context: bench
""")
        return path

    def start(self):
        d = self.dir
        run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/ca.key", "-out", self.ca, "-days", "2", "-subj", "/CN=bench-ca"])
        self.cert("apiserver", "kube-apiserver")
        run(["openssl", "genrsa", "-out", f"{d}/sa.key", "2048"])
        run(["openssl", "rsa", "-in", f"{d}/sa.key", "-pubout", "-out", f"{d}/sa.pub"])
        with open(f"{d}/tokens.csv", "w") as f:
            f.write(f'{self.admin_token},bench-admin,bench-admin-uid,"system:masters"\n')
            f.write(f'{self.webhook_token},system:serviceaccount:tmm-system:tmm-webhook,bench-webhook-uid,'
                    '"system:serviceaccounts,system:serviceaccounts:tmm-system,system:authenticated"\n')
        self.admin = self.kubeconfig(f"{d}/admin.kubeconfig", "bench-admin", self.admin_token, "default")
        self.webhook = self.kubeconfig(f"{d}/webhook.kubeconfig", "tmm-webhook", self.webhook_token, "tmm-system")
        client, peer = f"http://127.0.0.1:{self.etcd_port}", f"http://127.0.0.1:{self.peer_port}"
        self.spawn("etcd", [self.etcd_bin, "--data-dir", f"{d}/etcd", "--listen-client-urls", client, "--advertise-client-urls", client,
                            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", f"default={peer}",
                            "--log-level", "warn", "--quota-backend-bytes", str(4 << 30)])
        self.spawn("kube-apiserver", [
            self.apiserver_bin, f"--etcd-servers={client}", "--bind-address=127.0.0.1", "--advertise-address=127.0.0.1",
            f"--secure-port={self.port}", f"--tls-cert-file={d}/apiserver.crt", f"--tls-private-key-file={d}/apiserver.key",
            f"--client-ca-file={self.ca}", f"--token-auth-file={d}/tokens.csv", "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={d}/sa.pub", f"--service-account-signing-key-file={d}/sa.key", "--authorization-mode=RBAC",
            "--service-cluster-ip-range=10.96.0.0/24", "--disable-admission-plugins=ServiceAccount",
            "--enable-priority-and-fairness=false", "--enable-aggregator-routing=true", f"--cert-dir={d}/certs"])
        self.api = API(self.port, self.ca, self.admin_token)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.api.context, timeout=2)
                conn.request("GET", "/readyz", headers={"Authorization": f"Bearer {self.admin_token}"})
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        sys.exit("kube-apiserver did not become ready; see " + d)

    def spawn(self, name, args):
        log = open(f"{self.dir}/{name}.log", "ab")
        p = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        self.procs.append(p)
        return p

    def kubectl(self, *args, input=None, check=True):
        return subprocess.run(["kubectl", "--kubeconfig", self.admin, *args], input=input, capture_output=True, text=True, check=check)

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait()


def split_documents(text):
    decoder, i, docs = json.JSONDecoder(), 0, []
    while i < len(text):
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            break
        obj, i = decoder.raw_decode(text, i)
        docs.extend(obj["items"] if obj.get("kind") == "List" else [obj])
    return docs


def rendered_base(cp):
    yaml = run(["kubectl", "kustomize", f"{ROOT}/deploy/base"]).stdout
    return split_documents(cp.kubectl("create", "--dry-run=client", "-o", "json", "-f", "-", input=yaml).stdout)


def apply(cp, objects):
    cp.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))


def load(cp, nodes, pods, budgets, workers):
    api = cp.api
    namespaces = [f"bench-{i}" for i in range(max(1, min(10, budgets)))]
    apply(cp, [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}} for ns in namespaces])
    per_app = max(1, pods // max(1, budgets))
    status = {"capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"}, "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
              "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "bench"}]}

    def node(i):
        name = f"node-{i:04d}"
        api.call("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
        api.call("PATCH", f"/api/v1/nodes/{name}", {"spec": {"taints": []}}, "application/merge-patch+json")
        api.call("PATCH", f"/api/v1/nodes/{name}/status", {"status": status}, "application/merge-patch+json")

    def pod(j):
        app, replica = j // per_app, j % per_app
        # Replicas of one app on distinct nodes, every node about pods/nodes pods.
        node_index = (app + replica * 33) % nodes
        ns, name = namespaces[app % len(namespaces)], f"app-{app:04d}-{replica:02d}"
        api.call("POST", f"/api/v1/namespaces/{ns}/pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": f"app-{app:04d}"}},
            "spec": {"nodeName": f"node-{node_index:04d}", "terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "app", "image": "registry.invalid/app:1", "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}})
        api.call("PATCH", f"/api/v1/namespaces/{ns}/pods/{name}/status",
                 {"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}, "application/merge-patch+json")

    def budget(b):
        ns = namespaces[b % len(namespaces)]
        api.call("POST", f"/apis/policy/v1/namespaces/{ns}/poddisruptionbudgets", {
            "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": f"app-{b:04d}", "namespace": ns},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": f"app-{b:04d}"}}}})

    for what, count, fn in (("nodes", nodes, node), ("budgets", budgets, budget), ("pods", pods, pod)):
        started = time.monotonic()
        with ThreadPoolExecutor(workers) as pool:
            for _ in pool.map(fn, range(count)):
                pass
        print(f"loaded {count} {what} in {time.monotonic() - started:.1f} s", flush=True)
    return namespaces, per_app


def write_delays(metrics):
    """The tmm_webhook_watch_write_delay_seconds{resource="pods"} histogram as cumulative counts per bound."""
    buckets, count = [], 0
    for line in metrics.splitlines():
        if line.startswith("tmm_webhook_watch_write_delay_seconds_bucket{") and 'resource="pods"' in line:
            bound = line.split('le="')[1].split('"')[0]
            buckets.append((bound, int(float(line.rsplit(" ", 1)[1]))))
        elif line.startswith('tmm_webhook_watch_write_delay_seconds_count{resource="pods"}'):
            count = int(float(line.rsplit(" ", 1)[1]))
    if not count:
        return "none timed"
    shown = [f"<= {float(b) * 1000:g} ms: {n}" for b, n in buckets if b != "+Inf" and 0.001 <= float(b) <= 0.25]
    return f"{count} events; " + ", ".join(shown)


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def log_lines(path):
    lines = []
    with open(path) as f:
        for line in f:
            try:
                lines.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=30000)
    parser.add_argument("--budgets", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=20, help="admitted entries to time (each node tainted, then untainted)")
    parser.add_argument("--denials", type=int, default=5, help="refused entries to time (while another node is in maintenance)")
    parser.add_argument("--churn-per-minute", type=int, default=1000)
    parser.add_argument("--churn-seconds", type=int, default=60)
    parser.add_argument("--workers", type=int, default=16, help="concurrent API calls while loading")
    parser.add_argument("--webhook", default=f"{ROOT}/.build/release/tmm-webhook")
    parser.add_argument("--refusals", choices=("concurrency", "quorum"), default="concurrency",
                        help="which rule refuses the timed refusals (see above)")
    parser.add_argument("--webhook-arg", action="append", default=[], metavar="ARG",
                        help="an extra argument for `tmm-webhook serve` (repeat it), e.g. --webhook-arg=--freshness-quiet=60ms")
    parser.add_argument("--apiserver", default=os.environ.get("TMM_KUBE_APISERVER", "/tmp/kube-apiserver-v1.36.2/kube-apiserver"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (logs, data)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    for tool in ("kubectl", "openssl", "etcd"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed (etcd: ../shared/kube-apiserver/install.sh)")
    if not os.access(args.apiserver, os.X_OK):
        sys.exit(f"no kube-apiserver at {args.apiserver}: run ../shared/kube-apiserver/install.sh")
    if not os.access(args.webhook, os.X_OK):
        sys.exit(f"no webhook at {args.webhook}: swift build -c release --product tmm-webhook")
    random.seed(args.seed)
    directory = tempfile.mkdtemp(prefix="tmm-bench-")
    cp = ControlPlane(directory, args.apiserver, shutil.which("etcd"))
    webhook = None
    try:
        cp.start()
        print(f"kube-apiserver ready on 127.0.0.1:{cp.port} ({directory})", flush=True)
        base = rendered_base(cp)
        apply(cp, [o for o in base if o["kind"] in ("Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding")])
        namespaces, per_app = load(cp, args.nodes, args.pods, args.budgets, args.workers)

        port = free_port()
        cert, key = cp.cert("webhook", "tmm-webhook")
        log_path = f"{directory}/webhook.log"
        started = time.monotonic()
        policy = f"{directory}/policy.yaml"
        with open(policy, "w") as f:
            f.write(f"maxNodesInMaintenance: {1 if args.refusals == 'concurrency' else 2}\n")
        webhook = subprocess.Popen([args.webhook, "serve", "--kubeconfig", cp.webhook, "--listen", f"127.0.0.1:{port}", "--tls-cert", cert,
                                    "--tls-key", key, "--namespace", "tmm-system", "--pod-name", "tmm-webhook-bench", "--log-format", "json",
                                    "--config", policy]
                                   + args.webhook_arg,
                                   stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        context = ssl.create_default_context(cafile=cp.ca)
        while True:
            if webhook.poll() is not None:
                sys.exit(f"the webhook exited; see {log_path}")
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        sync = time.monotonic() - started
        listed = {l["resource"]: f'{l["objects"]} in {l["ms"]} ms' for l in log_lines(log_path) if l.get("msg") == "listed"}
        status = proc_status(webhook.pid)
        print(f"initial sync: /readyz {sync:.2f} s after start; listed {listed}", flush=True)
        print(f"memory after sync: VmRSS {status['VmRSS']}, VmHWM {status['VmHWM']}", flush=True)

        # Register by URL, with the base's rules and matchConditions; wait until the API server calls it.
        vwc = next(o for o in base if o["kind"] == "ValidatingWebhookConfiguration")
        for hook in vwc["webhooks"]:
            hook["clientConfig"] = {"url": f"https://127.0.0.1:{port}/validate", "caBundle": base64.b64encode(open(cp.ca, "rb").read()).decode()}
        apply(cp, [vwc])
        deadline = time.monotonic() + 30
        while not any(l.get("msg") == "decision" for l in log_lines(log_path)):
            if time.monotonic() > deadline:
                sys.exit("the API server does not call the webhook")
            cp.kubectl("taint", "node", "node-0000", "drain=planned-downtime:NoSchedule", "--dry-run=server", check=False)

        # CPU under pod churn: label updates spread evenly over the window.
        interval = 60.0 / args.churn_per_minute
        total = int(args.churn_per_minute * args.churn_seconds / 60)
        cpu_before, wall_before = cpu_seconds(webhook.pid), time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            futures = []
            for k in range(total):
                target = wall_before + k * interval
                delay = target - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                j = random.randrange(args.pods)
                app, replica = j // per_app, j % per_app
                ns, name = namespaces[app % len(namespaces)], f"app-{app:04d}-{replica:02d}"
                futures.append(pool.submit(cp.api.call, "PATCH", f"/api/v1/namespaces/{ns}/pods/{name}",
                                           {"metadata": {"labels": {"churn": str(k)}}}, "application/merge-patch+json"))
            for f in futures:
                f.result()
        elapsed = time.monotonic() - wall_before
        cpu = cpu_seconds(webhook.pid) - cpu_before
        status = proc_status(webhook.pid)
        print(f"churn: {total} pod updates in {elapsed:.1f} s; webhook CPU {cpu:.2f} s = {100 * cpu / elapsed:.2f} % of a core; "
              f"VmRSS {status['VmRSS']}, VmHWM {status['VmHWM']}", flush=True)

        # Entries through kubectl: the wall time of kubectl, and the webhook's durationMs for that request.
        def timed_entry(name):
            seen = len(log_lines(log_path))
            t = time.monotonic()
            r = cp.kubectl("taint", "node", name, "drain=planned-downtime:NoSchedule", check=False)
            wall = (time.monotonic() - t) * 1000
            mine = [l for l in log_lines(log_path)[seen:] if l.get("msg") == "decision" and l.get("node") == name and l.get("dryRun") == "false"]
            return wall, (float(mine[-1]["durationMs"]) if mine else float("nan")), r.returncode == 0, r.stderr.strip()

        nodes = random.sample(range(args.nodes), args.entries + args.denials + 1)
        if args.refusals == "quorum":
            # Nodes sharing an app with the holder (the last one): the layout of load() puts replica r of
            # app a on node (a + 33 r) % nodes.
            holder_index = nodes[-1]
            apps = range(max(1, args.pods // per_app))
            shared = sorted({(a + r * 33) % args.nodes for a in apps for r in range(per_app)
                             if any((a + q * 33) % args.nodes == holder_index for q in range(per_app))} - {holder_index})
            candidates = [n for n in shared if n not in nodes[:args.entries]]
            nodes = nodes[:args.entries] + random.sample(candidates, min(args.denials, len(candidates))) + [holder_index]
            args.denials = len(nodes) - args.entries - 1
        results = {"admitted": ([], []), "refused": ([], [])}
        wrong = []
        for i in nodes[:args.entries]:
            name = f"node-{i:04d}"
            wall, took, ok, message = timed_entry(name)
            results["admitted" if ok else "refused"][0].append(wall)
            results["admitted" if ok else "refused"][1].append(took)
            if not ok:
                wrong.append(f"{name} refused: {message[:300]}")
            cp.kubectl("taint", "node", name, "drain-", check=False)
        holder = f"node-{nodes[-1]:04d}"
        cp.kubectl("taint", "node", holder, "drain=planned-downtime:NoSchedule", check=False)
        # CPU of each process over the refusals: what one refusal (30 patches) costs the API server and
        # etcd sets a floor under its annotateMs on a machine this size.
        processes = {"kube-apiserver": cp.procs[1].pid, "etcd": cp.procs[0].pid, "webhook": webhook.pid}
        refusal_cpu = {name: cpu_seconds(pid) for name, pid in processes.items()}
        for i in nodes[args.entries:args.entries + args.denials]:
            name = f"node-{i:04d}"
            wall, took, ok, message = timed_entry(name)
            results["admitted" if ok else "refused"][0].append(wall)
            results["admitted" if ok else "refused"][1].append(took)
            if ok:
                wrong.append(f"{name} admitted while {holder} is in maintenance")
                cp.kubectl("taint", "node", name, "drain-", check=False)
        refusal_cpu = {name: cpu_seconds(pid) - refusal_cpu[name] for name, pid in processes.items()}
        cp.kubectl("taint", "node", holder, "drain-", check=False)
        if args.denials:
            print("CPU per refused entry (kubectl's own requests included): " + ", ".join(
                f"{name} {1000 * seconds / args.denials:.1f} ms" for name, seconds in refusal_cpu.items()), flush=True)
        for outcome, (walls, tooks) in results.items():
            if walls:
                print(f"{outcome} entries: kubectl wall {summary(walls)}; webhook durationMs {summary(tooks)}")
        print(f"all entries: webhook durationMs {summary(results['admitted'][1] + results['refused'][1])}")
        phases = [l for l in log_lines(log_path) if l.get("msg") == "entry phases"]
        for allowed, label in (("true", "admitted"), ("false", "refused")):
            mine = [l for l in phases if l.get("allowed") == allowed]
            if mine:
                views = {}
                for l in mine:
                    views[l.get("view", "?")] = views.get(l.get("view", "?"), 0) + 1
                print(f"{label} entry views: " + ", ".join(f"{k} {v}" for k, v in sorted(views.items())))
                print(f"{label} entry phases: " + "; ".join(
                    f"{field} {summary([float(l.get(field, 0)) for l in mine])}" for field in ("viewMs", "commitMs", "annotateMs")))
        annotated = [l for l in log_lines(log_path) if l.get("msg") == "annotated pods"]
        if annotated:
            print(f"refusals annotated {[int(l.get('patched', 0)) for l in annotated]} pods each")
            # Within a refusal: its slowest and median patch, patches tried again, connections opened.
            print("patches within a refusal: " + "; ".join(
                f"{field} {summary([float(l.get(field, 0)) for l in annotated])}" for field in ("medianMs", "slowestMs")) +
                f"; retries {sum(int(l.get('retries', 0)) for l in annotated)}, new connections "
                f"{sum(int(l.get('newConnections', 0)) for l in annotated)} in {len(annotated)} refusals")
        print(f"wrong decisions ({len(wrong)}): " + ("; ".join(wrong) if wrong else "none"))
        # The freshness check's assumption, measured on the webhook's own patches: how long after each
        # patch's answer its event came on the watch (the quiet wait allows 100 ms).
        conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=5)
        conn.request("GET", "/metrics")
        print("watch delay of the webhook's own patches: " + write_delays(conn.getresponse().read().decode()))
        status = proc_status(webhook.pid)
        print(f"memory at the end: VmRSS {status['VmRSS']}, VmHWM {status['VmHWM']}")
    finally:
        if webhook and webhook.poll() is None:
            webhook.send_signal(signal.SIGKILL)
            webhook.wait()
        cp.stop()
        if args.keep:
            print(f"kept {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
