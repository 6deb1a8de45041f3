import Foundation
import Testing
import TMMPolicy

/// A one-line language for cluster states, so each test row fits on one line.
///
/// Statements separated by `;` (nodes carry `kubernetes.io/hostname=NAME`, as kubelet sets it):
/// - `node NAME [k=v]… [cpu=4] [mem=8Gi] [pods=110] [eph=10Gi] [res=NAME=N] [notready] [cordoned] [unreachable]
///    [maint] [maint=drain] [taint=k=v:Effect]`
/// - `pod NS/NAME NODE|- [k=v]… [cpu=100m] [mem=128Mi] [eph=1Gi] [res=NAME=N] [unready] [phase=Succeeded] [ds] [mirror]
///    [tol=KEY:OP:VALUE:EFFECT] [sel=k=v] [aff=KEY:Op:v1|v2] [port=[IP:]PORT[/PROTO]] [anti=TOPOLOGYKEY:SELECTOR]
///    [podaff=TOPOLOGYKEY:SELECTOR] [spread=TOPOLOGYKEY:MAXSKEW:SELECTOR] [spreadany=…] [spreadhonor=…] [pvc=CLAIM]`
///    (SELECTOR in kubectl syntax, `{}` for every pod; `{pod}` in a claim name is the pod's name)
/// - `set NS/PREFIX n1,n2,n3 [pod attributes]…` — PREFIX-0 on n1, PREFIX-1 on n2, …
/// - `pv NAME [KEY=VALUE]… [local] [claim=NS/NAME]` — a volume whose node affinity requires each label
/// - `pvc NS/NAME [VOLUME]` — a claim, bound when VOLUME is given
/// - `pdb NS/NAME SELECTOR min=N|min=P%|max=N|max=P%` (SELECTOR in kubectl syntax without spaces,
///   `{}` for the empty selector, `none` for no selector)
enum Scenario {
    static func state(_ text: String) -> ClusterState {
        var state = ClusterState()
        for statement in text.split(separator: ";") {
            let words = statement.split(whereSeparator: \.isWhitespace).map(String.init)
            guard let verb = words.first else { continue }
            switch verb {
            case "node": state.upsert(node: node(words[1], Array(words.dropFirst(2))))
            case "pod":
                let (ns, name) = split(words[1])
                state.upsert(pod: pod(ns, name, words[2], Array(words.dropFirst(3))))
            case "set":
                let (ns, prefix) = split(words[1])
                for (i, n) in words[2].split(separator: ",").enumerated() {
                    state.upsert(pod: pod(ns, "\(prefix)-\(i)", String(n), Array(words.dropFirst(3))))
                }
            case "pdb":
                let (ns, name) = split(words[1])
                let selector: LabelSelector? =
                    switch words[2] {
                    case "none": nil
                    case "{}": .everything
                    default: try! LabelSelector.parse(words[2])
                    }
                var budget = DisruptionBudget(namespace: ns, name: name, selector: selector)
                for w in words.dropFirst(3) {
                    let (k, v) = split(w, "=")
                    if k == "min" { budget.minAvailable = IntOrPercent(string: v) }
                    if k == "max" { budget.maxUnavailable = IntOrPercent(string: v) }
                }
                state.upsert(budget: budget)
            case "pv":
                var volume = PersistentVolume(name: words[1])
                var term = NodeSelectorTerm()
                for w in words.dropFirst(2) {
                    if w == "local" {
                        volume.local = true
                        continue
                    }
                    let (k, v) = split(w, "=")
                    if k == "claim" {
                        let (ns, name) = split(v)
                        volume.claim = PodRef(namespace: ns, name: name)
                    } else {
                        term.matchExpressions.append(LabelRequirement(k, .in, [v]))
                    }
                }
                if !term.matchExpressions.isEmpty { volume.nodeAffinity = [term] }
                state.upsert(persistentVolume: volume)
            case "pvc":
                let (ns, name) = split(words[1])
                state.upsert(persistentVolumeClaim: PersistentVolumeClaim(namespace: ns, name: name, volumeName: words.count > 2 ? words[2] : nil))
            default: fatalError("unknown statement \(verb)")
            }
        }
        return state
    }

    static func selector(_ text: String) -> LabelSelector { text == "{}" ? .everything : try! LabelSelector.parse(text) }

    static func split(_ s: String, _ sep: Character = "/") -> (String, String) {
        let i = s.firstIndex(of: sep)!
        return (String(s[..<i]), String(s[s.index(after: i)...]))
    }

    static func node(_ name: String, _ words: [String]) -> Node {
        var n = Node(name: name, labels: ["kubernetes.io/hostname": name])
        for w in words {
            switch w {
            case "notready": n.ready = false
            case "cordoned": n.unschedulable = true
            case "unreachable": n.taints.append(Taint(key: "node.kubernetes.io/unreachable", effect: "NoExecute"))
            case "maint": n.taints.append(Taint(key: "drain", value: "planned-downtime", effect: "NoSchedule"))
            default:
                let (k, v) = split(w, "=")
                switch k {
                case "cpu": n.allocatable.cpuMillis = try! Quantity(v).milliValue
                case "mem": n.allocatable.memoryBytes = try! Quantity(v).value
                case "pods": n.allocatable.pods = Int64(v)!
                case "eph": n.allocatable.ephemeralStorageBytes = try! Quantity(v).value
                case "res":
                    let (name, amount) = split(v, "=")
                    n.extendedAllocatable[name] = Int64(amount)!
                case "maint": n.taints.append(Taint(key: "drain", value: v, effect: "NoSchedule"))
                case "taint":
                    let (kv, effect) = split(v, ":")
                    let (tk, tv) = kv.contains("=") ? split(kv, "=") : (kv, "")
                    n.taints.append(Taint(key: tk, value: tv, effect: effect))
                default: n.labels[k] = v
                }
            }
        }
        return n
    }

    static func pod(_ ns: String, _ name: String, _ node: String, _ words: [String]) -> Pod {
        var p = Pod(
            namespace: ns, name: name, nodeName: node == "-" ? nil : node,
            requests: Resources(cpuMillis: 100, memoryBytes: 128 << 20, pods: 1))
        var term = NodeSelectorTerm()
        for w in words {
            switch w {
            case "unready": p.ready = false
            case "ds": p.daemonSetOwned = true
            case "mirror": p.mirror = true
            default:
                let (k, v) = split(w, "=")
                switch k {
                case "cpu": p.requests.cpuMillis = try! Quantity(v).milliValue
                case "mem": p.requests.memoryBytes = try! Quantity(v).value
                case "eph": p.requests.ephemeralStorageBytes = try! Quantity(v).value
                case "res":
                    let (rname, amount) = split(v, "=")
                    p.extendedRequests[rname] = Int64(amount)!
                case "port":
                    var text = v
                    var proto = "TCP"
                    var ip = ""
                    if let slash = text.firstIndex(of: "/") {
                        proto = String(text[text.index(after: slash)...])
                        text = String(text[..<slash])
                    }
                    if let colon = text.lastIndex(of: ":") {
                        ip = String(text[..<colon])
                        text = String(text[text.index(after: colon)...])
                    }
                    p.hostPorts.append(HostPort(port: Int32(text)!, protocol: proto, hostIP: ip))
                case "anti", "podaff":
                    let (key, sel) = split(v, ":")
                    let term = PodAffinityTerm(labelSelector: selector(sel), topologyKey: key)
                    if k == "anti" { p.podAntiAffinity.append(term) } else { p.podAffinity.append(term) }
                case "spread", "spreadany", "spreadhonor":
                    let f = v.split(separator: ":", maxSplits: 2).map(String.init)
                    p.topologySpread.append(
                        TopologySpreadConstraint(
                            maxSkew: Int(f[1])!, topologyKey: f[0], doNotSchedule: k != "spreadany",
                            labelSelector: selector(f[2]), honorTaints: k == "spreadhonor"))
                case "pvc": p.claims.append(v.replacingOccurrences(of: "{pod}", with: name))
                case "phase": p.phase = Pod.Phase(rawValue: v)!
                case "tol":
                    let f = v.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                    p.tolerations.append(
                        Toleration(key: f[0], operator: Toleration.Operator(rawValue: f[1])!, value: f[2], effect: f[3]))
                case "sel":
                    let (sk, sv) = split(v, "=")
                    p.nodeSelector[sk] = sv
                case "aff":
                    let f = v.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
                    let values = f.count > 2 && !f[2].isEmpty ? f[2].split(separator: "|").map(String.init) : []
                    term.matchExpressions.append(LabelRequirement(f[0], LabelRequirement.Operator(rawValue: f[1])!, values))
                default: p.labels[k] = v
                }
            }
        }
        if !term.matchExpressions.isEmpty { p.requiredNodeAffinity = [term] }
        return p
    }

    static func fixture(_ name: String) throws -> [UInt8] {
        let url = try #require(Bundle.module.resourceURL).appendingPathComponent("Fixtures/\(name)")
        return Array(try Data(contentsOf: url))
    }
}
