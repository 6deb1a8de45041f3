import Foundation
import Testing

/// Renders every overlay under deploy/ and checks that the pieces agree with each other and with the
/// program: names, namespaces, ports, labels and selectors, secret and ConfigMap names, RBAC.
@Suite struct DeployTests {
    /// Kinds that have no namespace.
    static let clusterScoped: Set<String> = [
        "Namespace", "ClusterRole", "ClusterRoleBinding", "ValidatingWebhookConfiguration",
    ]

    @Test(arguments: Variant.all)
    func rendersWithUniqueObjects(_ variant: Variant) throws {
        let objects = try Kustomize.render(variant.path)
        var seen: Set<String> = []
        for object in objects {
            #expect(!object.apiVersion.isEmpty && !object.kind.isEmpty && !object.name.isEmpty,
                    "object without apiVersion, kind or name: \(object)")
            #expect(seen.insert(object.reference).inserted, "\(object.reference) rendered twice")
        }
        for kind in ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                     "ConfigMap", "Deployment", "PodDisruptionBudget", "Service", "ValidatingWebhookConfiguration"] {
            #expect(!objects.all(kind).isEmpty, "no \(kind) rendered")
        }
    }

    @Test(arguments: Variant.all)
    func oneNamespaceEverywhere(_ variant: Variant) throws {
        let rendered = try Rendered(variant)
        let namespaces = rendered.objects.all("Namespace").map(\.name)
        #expect(namespaces == [Names.namespace])
        for object in rendered.objects {
            if Self.clusterScoped.contains(object.kind) {
                #expect(object.namespace == nil, "\(object.reference) is cluster-scoped but has a namespace")
            } else {
                #expect(object.namespace == Names.namespace, "\(object.reference) is not in \(Names.namespace)")
            }
        }
        for binding in rendered.objects.all("ClusterRoleBinding") + rendered.objects.all("RoleBinding") {
            for subject in binding["subjects"].array where subject["kind"].string == "ServiceAccount" {
                #expect(subject["namespace"].string == Names.namespace, "\(binding.reference): subject namespace")
            }
        }
    }

    @Test(arguments: Variant.all)
    func serviceReachesThePods(_ variant: Variant) throws {
        let rendered = try Rendered(variant)
        let deploymentSelector = rendered.deployment["spec"]["selector"]["matchLabels"].stringMap
        #expect(selects(deploymentSelector, rendered.podLabels), "Deployment selector does not match its pods")
        #expect(selects(rendered.service["spec"]["selector"].stringMap, rendered.podLabels),
                "Service selector \(rendered.service["spec"]["selector"]) does not match pod labels \(rendered.podLabels)")

        let ports = rendered.service["spec"]["ports"].array
        try #require(ports.count == 1, "one Service port")
        #expect(ports[0]["port"].int == Names.servicePort)
        let containerPorts = try rendered.container()["ports"].array
        try #require(containerPorts.count == 1, "one container port")
        #expect(containerPorts[0]["containerPort"].int == Names.containerPort)
        let target = ports[0]["targetPort"]
        #expect(target.string == containerPorts[0]["name"].string || target.int == containerPorts[0]["containerPort"].int,
                "Service targetPort \(target) is neither the container port's name nor its number")

        let listen = try rendered.environment()["TMM_LISTEN"] ?? "0.0.0.0:8443"
        #expect(listen.hasSuffix(":\(Names.containerPort)"), "TMM_LISTEN \(listen) is not the container port")
    }

    @Test(arguments: Variant.all)
    func webhookCallsTheService(_ variant: Variant) throws {
        let rendered = try Rendered(variant)
        let webhook = rendered.webhook
        let service = webhook["clientConfig"]["service"]
        #expect(webhook["name"].string == Names.webhook)
        #expect(webhook["clientConfig"]["url"].isNull, "a webhook with a url bypasses the Service")
        #expect(service["name"].string == rendered.service.name)
        #expect(service["namespace"].string == rendered.service.namespace)
        #expect(service["path"].string == Names.webhookPath)
        let servicePorts = rendered.service["spec"]["ports"].array.compactMap { $0["port"].int }
        #expect(servicePorts.contains(service["port"].int ?? 443), "webhook port \(service["port"]) not on the Service")
    }

    @Test(arguments: Variant.all)
    func webhookMatchesNodeUpdatesOnly(_ variant: Variant) throws {
        let webhook = try Rendered(variant).webhook
        let rules = webhook["rules"].array
        try #require(rules.count == 1, "one rule")
        #expect(rules[0]["apiGroups"].strings == [""])
        #expect(rules[0]["apiVersions"].strings == ["v1"])
        #expect(rules[0]["operations"].strings == ["UPDATE"])
        // "nodes" alone: not "nodes/status" (heartbeats), not "nodes/*", not "*".
        #expect(rules[0]["resources"].strings == ["nodes"])
        #expect(webhook["sideEffects"].string == "NoneOnDryRun")
        #expect(webhook["admissionReviewVersions"].strings == ["v1"])
        #expect(webhook["failurePolicy"].string == "Fail")
        #expect(webhook["matchPolicy"].string == "Equivalent")
        let timeout = try #require(webhook["timeoutSeconds"].int, "timeoutSeconds is set")
        #expect((1...10).contains(timeout), "timeoutSeconds \(timeout) is not short")
    }

    @Test(arguments: Variant.all)
    func matchConditionsNameExactlyThePolicyTaintKeys(_ variant: Variant) throws {
        let rendered = try Rendered(variant)
        let names = rendered.webhook["matchConditions"].array.compactMap { $0["name"].string }
        #expect(names == ["not-a-kubelet", Names.taintCondition])
        #expect(try rendered.matchCondition("not-a-kubelet").contains("'system:nodes'"))

        let expression = try rendered.matchCondition(Names.taintCondition)
        // The single-quoted literals of the expression, less the ones that are not taint keys.
        let literals = expression.split(separator: "'", omittingEmptySubsequences: false)
            .enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
        let keys = Set(literals).subtracting(["NoSchedule", "NoExecute", "=", ":", ""])
        #expect(keys == variant.taintKeys, "matchCondition keys \(keys.sorted())")
        // Both effects that make a maintenance taint (MaintenanceLevel), and not PreferNoSchedule.
        #expect(literals.contains("NoSchedule") && literals.contains("NoExecute"))
        #expect(!literals.contains("PreferNoSchedule"))
        // The effect is part of what is compared, so NoSchedule -> NoExecute reaches the webhook.
        #expect(expression.contains("+ ':' + t.effect"))
        // A missing spec.taints must not make the expression fail (failurePolicy Fail would then refuse).
        #expect(expression.contains("has(node.spec.taints)") && expression.contains("has(t.value)"))
        #expect(expression.contains("object") && expression.contains("oldObject"))

        // Variants change only the list of keys; the rest must stay the base's expression.
        let reference = try Rendered(Variant.all[0]).matchCondition(Names.taintCondition)
        #expect(Self.withoutKeyList(expression) == Self.withoutKeyList(reference),
                "the expression differs from the base's beyond its list of keys")

        let policyKeys = try rendered.policy()["taintKeys"].strings
        #expect(Set(policyKeys) == variant.taintKeys, "policy taintKeys \(policyKeys)")
    }

    /// `expression` with the contents of its `t.key in [...]` list taken out, and without indentation.
    static func withoutKeyList(_ expression: String) -> String {
        let lines = expression.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var text = lines.joined(separator: "\n")
        if let start = text.range(of: "t.key in ["), let end = text[start.upperBound...].firstIndex(of: "]") {
            text.replaceSubrange(start.upperBound..<end, with: "…")
        }
        return text
    }

    @Test(arguments: Variant.all)
    func policyFitsTheVariant(_ variant: Variant) throws {
        let rendered = try Rendered(variant)
        let policy = try rendered.policy()
        #expect((policy["mode"].string ?? "enforce") == variant.mode)
        #expect((policy["annotationKey"].string ?? "emm-failure") == variant.annotationKey)
        let known: Set<String> = ["mode", "maxNodesInMaintenance", "annotationKey", "taintKeys",
                                  "failureDomainLabel", "podSelector", "checks", "failClosed"]
        #expect(Set(policy.dictionary.keys).isSubset(of: known), "unknown policy keys \(policy.dictionary.keys.sorted())")

        // Mounted as a directory (not subPath, so updates reach the pod) where TMM_CONFIG points.
        let volume = try rendered.volume("policy")
        #expect(volume["configMap"]["name"].string == Names.policyConfigMap)
        let items = volume["configMap"]["items"].array
        let path = items.isEmpty ? Names.policyKey : items.first { $0["key"].string == Names.policyKey }?["path"].string
        #expect(items.isEmpty || items.count == 1, "only policy.yaml is projected")
        let mount = try rendered.mount(of: "policy")
        #expect(mount["subPath"].isNull, "a subPath mount never sees ConfigMap updates")
        #expect(mount["mountPath"].string == Names.policyMountPath)
        #expect(try rendered.environment()["TMM_CONFIG"] == Names.policyMountPath + "/" + (path ?? "?"))
    }

    @Test(arguments: Variant.all)
    func mountedSecretIsTheOneProduced(_ variant: Variant) throws {
        let rendered = try Rendered(variant)
        let volume = try rendered.volume("tls")
        let secretName = try #require(volume["secret"]["secretName"].string, "tls volume is a Secret")
        #expect(secretName == Names.tlsSecret)
        let mount = try rendered.mount(of: "tls")
        #expect(mount["mountPath"].string == Names.tlsMountPath)
        #expect(mount["subPath"].isNull, "a subPath mount never sees a renewed certificate")
        let environment = try rendered.environment()
        #expect(environment["TMM_TLS_CERT"] == Names.tlsMountPath + "/tls.crt")
        #expect(environment["TMM_TLS_KEY"] == Names.tlsMountPath + "/tls.key")

        let secrets = rendered.objects.all("Secret").filter { $0.name == secretName }
        let certificates = rendered.objects.all("Certificate").filter { $0["spec"]["secretName"].string == secretName }
        let webhookService = "\(rendered.service.name).\(Names.namespace).svc"
        switch variant.certificates {
        case .selfSigned:
            try #require(secrets.count == 1 && certificates.isEmpty, "Secret \(secretName) comes from the secretGenerator")
            let secret = secrets[0]
            #expect(secret["type"].string == "kubernetes.io/tls")
            #expect(Set(secret["data"].stringMap.keys) == ["ca.crt", "tls.crt", "tls.key"])
            let caBundle = rendered.webhook["clientConfig"]["caBundle"].string
            #expect(caBundle == secret["data"]["ca.crt"].string, "caBundle is not the Secret's ca.crt")
            // kustomize folds long base64 over lines; the API server's decoder skips the newlines.
            #expect(caBundle.flatMap { Data(base64Encoded: $0, options: .ignoreUnknownCharacters) }
                    == Data(Kustomize.fakeCA.utf8))
        case .certManager:
            try #require(certificates.count == 1 && secrets.isEmpty, "Secret \(secretName) comes from one Certificate")
            let certificate = certificates[0]
            #expect(certificate["spec"]["dnsNames"].strings.contains(webhookService),
                    "the serving certificate does not name \(webhookService)")
            #expect(certificate["spec"]["isCA"].bool != true)
            let issuerName = certificate["spec"]["issuerRef"]["name"].string ?? ""
            let issuer = try #require(rendered.objects.one("Issuer", named: issuerName), "Issuer \(issuerName)")
            // The CA issuer's own Secret must come from the CA Certificate.
            let caSecret = try #require(issuer["spec"]["ca"]["secretName"].string, "Issuer \(issuerName) is a CA issuer")
            let ca = try #require(
                rendered.objects.all("Certificate").first { $0["spec"]["secretName"].string == caSecret },
                "a Certificate producing \(caSecret)")
            #expect(ca["spec"]["isCA"].bool == true)
            let caIssuer = ca["spec"]["issuerRef"]["name"].string ?? ""
            #expect(rendered.objects.one("Issuer", named: caIssuer)?["spec"]["selfSigned"].isNull == false)
            // The CA injector fills the caBundle from the serving Certificate.
            #expect(rendered.webhookConfiguration.annotations["cert-manager.io/inject-ca-from"]
                    == "\(certificate.namespace ?? "")/\(certificate.name)")
            #expect(rendered.webhook["clientConfig"]["caBundle"].isNull)
        }
    }

    @Test(arguments: Variant.all)
    func serviceAccountIsBoundToExactlyThePermissionTable(_ variant: Variant) throws {
        let rendered = try Rendered(variant)
        let accountName = try #require(rendered.podSpec["serviceAccountName"].string, "serviceAccountName is set")
        #expect(accountName == Names.app)
        #expect(rendered.objects.one("ServiceAccount", named: accountName)?.namespace == Names.namespace)
        #expect(rendered.podSpec["automountServiceAccountToken"].bool != false, "the API client needs the token")

        func bindsAccount(_ binding: Manifest) -> Bool {
            binding["subjects"].array.contains {
                $0["kind"].string == "ServiceAccount" && $0["name"].string == accountName
                    && $0["namespace"].string == Names.namespace
            }
        }
        var granted: Set<Grant> = []
        var bindings = 0
        for binding in rendered.objects.all("ClusterRoleBinding") where bindsAccount(binding) {
            bindings += 1
            let roleName = binding["roleRef"]["name"].string ?? ""
            #expect(binding["roleRef"]["kind"].string == "ClusterRole")
            let role = try #require(rendered.objects.one("ClusterRole", named: roleName), "ClusterRole \(roleName)")
            granted.formUnion(Grant.expand(rules: role["rules"], scope: "cluster"))
        }
        for binding in rendered.objects.all("RoleBinding") where bindsAccount(binding) {
            bindings += 1
            let roleName = binding["roleRef"]["name"].string ?? ""
            let scope = binding.namespace ?? "?"
            let roleKind = binding["roleRef"]["kind"].string ?? ""
            let role = try #require(
                rendered.objects.all(roleKind).first {
                    $0.name == roleName && (roleKind == "ClusterRole" || $0.namespace == scope)
                }, "\(roleKind) \(roleName) for RoleBinding \(binding.name)")
            granted.formUnion(Grant.expand(rules: role["rules"], scope: scope))
        }
        #expect(bindings == 2, "expected one ClusterRoleBinding and one RoleBinding for the ServiceAccount")

        let required = try Grant.required(namespace: Names.namespace)
        let extra = granted.subtracting(required).sorted()
        let missing = required.subtracting(granted).sorted()
        #expect(extra.isEmpty, "granted but not in deploy/permissions.yaml: \(extra)")
        #expect(missing.isEmpty, "in deploy/permissions.yaml but not granted: \(missing)")
    }

    @Test(arguments: Variant.all)
    func disruptionBudgetAndSpreadProtectThePods(_ variant: Variant) throws {
        let rendered = try Rendered(variant)
        let budgets = rendered.objects.all("PodDisruptionBudget")
        try #require(budgets.count == 1, "one PodDisruptionBudget")
        #expect(selects(budgets[0]["spec"]["selector"]["matchLabels"].stringMap, rendered.podLabels),
                "PodDisruptionBudget selector does not match the pods")
        let minAvailable = try #require(budgets[0]["spec"]["minAvailable"].int, "minAvailable is a number")
        let replicas = rendered.deployment["spec"]["replicas"].int ?? 1
        #expect(minAvailable == 1 && replicas == 2)
        #expect(rendered.deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"].int == 1)

        let spread = rendered.podSpec["topologySpreadConstraints"].array
        #expect(spread.contains {
            $0["topologyKey"].string == "kubernetes.io/hostname"
                && $0["whenUnsatisfiable"].string == "DoNotSchedule"
                && selects($0["labelSelector"]["matchLabels"].stringMap, rendered.podLabels)
        }, "no hard spread over nodes")
        let antiAffinity = rendered.podSpec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
        #expect(antiAffinity.array.allSatisfy {
            selects($0["podAffinityTerm"]["labelSelector"]["matchLabels"].stringMap, rendered.podLabels)
        })
    }

    @Test(arguments: Variant.all)
    func podIsLockedDownAndProbed(_ variant: Variant) throws {
        let rendered = try Rendered(variant)
        let container = try rendered.container()
        let security = container["securityContext"]
        #expect(security["runAsNonRoot"].bool == true)
        #expect(security["runAsUser"].int == 65532)
        #expect(security["readOnlyRootFilesystem"].bool == true)
        #expect(security["allowPrivilegeEscalation"].bool == false)
        #expect(security["capabilities"]["drop"].strings == ["ALL"])
        #expect(security["capabilities"]["add"].isNull)
        let seccomp = security["seccompProfile"]["type"].string ?? rendered.podSpec["securityContext"]["seccompProfile"]["type"].string
        #expect(seccomp == "RuntimeDefault")
        #expect(container["image"].string?.hasPrefix("tmm-webhook") == true)
        #expect(container["args"].strings.first == "serve")
        let resources = container["resources"]
        #expect(!resources["requests"]["cpu"].isNull && !resources["requests"]["memory"].isNull
                && !resources["limits"]["memory"].isNull)

        let portName = container["ports"][0]["name"].string
        for (probe, path) in [("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")] {
            let get = container[probe]["httpGet"]
            #expect(get["path"].string == path, "\(probe) path")
            #expect(get["scheme"].string == "HTTPS", "\(probe) scheme")
            #expect(get["port"].string == portName || get["port"].int == Names.containerPort, "\(probe) port")
        }

        // The pod must outlive its own shutdown: preStop sleep, then the server's grace period.
        let environment = try rendered.environment()
        let grace = Int(environment["TMM_SHUTDOWN_GRACE"] ?? "20") ?? 20
        let preStop = container["lifecycle"]["preStop"]["exec"]["command"].strings
        let sleep = preStop.first == "/bin/sleep" ? Int(preStop.last ?? "0") ?? 0 : 0
        let termination = rendered.podSpec["terminationGracePeriodSeconds"].int ?? 30
        #expect(termination > grace + sleep, "terminationGracePeriodSeconds \(termination) <= \(sleep) + \(grace)")

        // The downward API gives the program its namespace and pod name.
        let fields = Dictionary(uniqueKeysWithValues: container["env"].array.compactMap { variable in
            variable["valueFrom"]["fieldRef"]["fieldPath"].string.map { (variable["name"].string ?? "", $0) }
        })
        #expect(fields["TMM_NAMESPACE"] == "metadata.namespace")
        #expect(fields["TMM_POD_NAME"] == "metadata.name")
    }

    @Test func kubectlIsFoundOrTheFailureSaysHow() throws {
        // Not skippable on purpose: without kubectl every other test here would fail; this one says why.
        let path = try Kustomize.kubectlPath()
        #expect(FileManager.default.isExecutableFile(atPath: path), "\(path) is not executable")
    }
}
