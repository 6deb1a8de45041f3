/// An installable kustomization under deploy/ and what its rendering must say.
struct Variant: Sendable, CustomStringConvertible {
    enum Certificates: Sendable { case certManager, selfSigned }

    /// Directory relative to deploy/.
    let path: String
    let certificates: Certificates
    /// The maintenance taint keys: the policy's `taintKeys` and the keys in the webhook's matchConditions.
    let taintKeys: Set<String>
    let mode: String
    let annotationKey: String

    var description: String { path }

    static let allTaintKeys: Set<String> = ["drain", "node.vmware.com/drain", "node.dell.com/drain"]
    static let vsphere = (taintKeys: Set(["node.vmware.com/drain"]), mode: "annotate",
                          annotationKey: "appplatform.vmware.com/emm-failure")
    static let dell = (taintKeys: Set(["node.dell.com/drain"]), mode: "enforce", annotationKey: "emm-failure")

    /// Every overlay, and the combinations deploy/README.md documents.
    static let all: [Variant] = [
        Variant(path: "overlays/cert-manager", certificates: .certManager,
                taintKeys: allTaintKeys, mode: "enforce", annotationKey: "emm-failure"),
        Variant(path: "overlays/self-signed", certificates: .selfSigned,
                taintKeys: allTaintKeys, mode: "enforce", annotationKey: "emm-failure"),
        Variant(path: "overlays/vsphere", certificates: .certManager,
                taintKeys: vsphere.taintKeys, mode: vsphere.mode, annotationKey: vsphere.annotationKey),
        Variant(path: "overlays/dell", certificates: .certManager,
                taintKeys: dell.taintKeys, mode: dell.mode, annotationKey: dell.annotationKey),
        Variant(path: "combos/vsphere-self-signed", certificates: .selfSigned,
                taintKeys: vsphere.taintKeys, mode: vsphere.mode, annotationKey: vsphere.annotationKey),
        Variant(path: "combos/dell-self-signed", certificates: .selfSigned,
                taintKeys: dell.taintKeys, mode: dell.mode, annotationKey: dell.annotationKey),
    ]
}

/// The fixed names the program and its documentation rely on.
enum Names {
    static let namespace = "tmm-system"
    static let app = "tmm-webhook"
    static let tlsSecret = "tmm-webhook-tls"
    static let policyConfigMap = "tmm-webhook-policy"
    static let policyKey = "policy.yaml"
    static let webhook = "maintenance.tmm-webhook.io"
    static let webhookPath = "/validate"
    static let containerPort = 8443
    static let servicePort = 443
    static let tlsMountPath = "/etc/tmm-webhook/tls"
    static let policyMountPath = "/etc/tmm-webhook/policy"
    static let taintCondition = "maintenance-taints-changed"
}
