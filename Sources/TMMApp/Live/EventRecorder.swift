import Dispatch
import Glibc
import Logging
import TMMBase
import TMMJSON
import TMMKube
import TMMTransport

/// Records a Kubernetes Event on a Node for each entry decision, in the background (an Event never
/// delays an answer). Nodes are cluster-scoped, so their Events go to `default`, as kubectl and the
/// kubelet do.
struct EventRecorder: Sendable {
    let client: KubeClient
    let reportingInstance: String
    let logger: Logger
    private static let queue = DispatchQueue(label: "tmm-webhook.events")

    func record(node: String, admitted: Bool, message: String) {
        record(
            namespace: "default", involved: ["apiVersion": "v1", "kind": "Node", "name": .string(node), "uid": .string(node)],
            generateName: "\(node).", warning: !admitted, reason: admitted ? "MaintenanceAdmitted" : "MaintenanceRejected",
            message: message)
    }

    /// A Warning Event on the policy ConfigMap: a new policy was refused and the old one stays.
    func recordPolicyRejected(namespace: String, configMap: String, message: String) {
        record(
            namespace: namespace, involved: ["apiVersion": "v1", "kind": "ConfigMap", "name": .string(configMap), "namespace": .string(namespace)],
            generateName: "\(configMap).", warning: true, reason: "PolicyRejected", message: message)
    }

    private func record(namespace: String, involved: JSON, generateName: String, warning: Bool, reason: String, message: String) {
        let now = Self.rfc3339(Int64(time(nil)))
        let event: JSON = [
            "apiVersion": "v1", "kind": "Event",
            "metadata": ["generateName": .string(generateName), "namespace": .string(namespace)],
            "involvedObject": involved,
            "reason": .string(reason),
            "message": .string(String(message.prefix(1024))),
            "type": .string(warning ? "Warning" : "Normal"),
            "source": ["component": "tmm-webhook"],
            "reportingComponent": "tmm-webhook",
            "reportingInstance": .string(reportingInstance),
            "firstTimestamp": .string(now), "lastTimestamp": .string(now), "count": 1,
        ]
        let client = self.client
        let logger = self.logger
        Self.queue.async {
            do throws(KubeError) {
                _ = try client.create("/api/v1/namespaces/\(namespace)/events", event, deadline: .now() + .seconds(5))
            } catch {
                logger.warning("cannot record an Event", metadata: ["reason": "\(reason)", "error": "\(error)"])
            }
        }
    }

    static func rfc3339(_ seconds: Int64) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)-\(pad(parts.tm_mon + 1))-\(pad(parts.tm_mday))T\(pad(parts.tm_hour)):\(pad(parts.tm_min)):\(pad(parts.tm_sec))Z"
    }
}
