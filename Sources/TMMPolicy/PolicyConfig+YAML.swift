import Yams

extension PolicyConfig {
    /// Reads a policy from YAML. An unknown key, a value of the wrong type or out of range, or a bad
    /// selector throws a ``PolicyError`` with code `config` naming the key and the line.
    /// An empty document is the default policy.
    public static func load(yaml: String) throws(PolicyError) -> PolicyConfig {
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw PolicyError(.config, "not valid YAML: \(error)", line: YAMLReader.line(of: error))
        } catch {
            throw PolicyError(.config, "not valid YAML: \(error)")
        }
        var config = PolicyConfig()
        guard let root else { return config }
        if case .scalar(let s) = root, s.style == .plain, ["", "~", "null"].contains(s.string) { return config }
        let top = try YAMLReader.mapping(root, key: "(top level)")
        for (keyNode, value) in top {
            let key = try YAMLReader.keyName(keyNode)
            switch key {
            case "mode":
                let text = try YAMLReader.string(value, key: key)
                guard let mode = Mode(rawValue: text) else {
                    throw YAMLReader.bad(key, value, "must be one of enforce, annotate, audit, not '\(text)'")
                }
                config.mode = mode
            case "maxNodesInMaintenance":
                let n = try YAMLReader.int(value, key: key)
                guard n >= 1 else { throw YAMLReader.bad(key, value, "must be at least 1, not \(n)") }
                config.maxNodesInMaintenance = n
            case "annotationKey":
                let text = try YAMLReader.string(value, key: key)
                guard !text.isEmpty, !text.contains(" ") else {
                    throw YAMLReader.bad(key, value, "must be a non-empty annotation key")
                }
                config.annotationKey = text
            case "taintKeys":
                guard case .sequence(let seq) = value else {
                    throw YAMLReader.bad(key, value, "must be a list of taint keys")
                }
                config.taintKeys = try seq.map { (n) throws(PolicyError) in try YAMLReader.string(n, key: key) }
                guard !config.taintKeys.isEmpty, !config.taintKeys.contains("") else {
                    throw YAMLReader.bad(key, value, "must list at least one non-empty taint key")
                }
            case "failureDomainLabel":
                config.failureDomainLabel = try YAMLReader.string(value, key: key)
            case "podSelector":
                let text = try YAMLReader.string(value, key: key)
                do {
                    config.podSelector = try LabelSelector.parse(text)
                } catch {
                    throw YAMLReader.bad(key, value, error.message)
                }
            case "checks":
                for (subKey, subValue) in try YAMLReader.mapping(value, key: key) {
                    let name = try YAMLReader.keyName(subKey)
                    switch name {
                    case "quorum": config.checks.quorum = try YAMLReader.bool(subValue, key: "checks.quorum")
                    case "capacity": config.checks.capacity = try YAMLReader.bool(subValue, key: "checks.capacity")
                    default:
                        throw YAMLReader.bad("checks.\(name)", subKey, "unknown key (known: quorum, capacity)")
                    }
                }
            case "failClosed":
                config.failClosed = try YAMLReader.bool(value, key: key)
            default:
                throw YAMLReader.bad(
                    key, keyNode,
                    "unknown key (known: mode, maxNodesInMaintenance, annotationKey, taintKeys, failureDomainLabel, "
                        + "podSelector, checks, failClosed)")
            }
        }
        return config
    }
}

/// Typed reads of Yams nodes that fail with the key and the line.
enum YAMLReader {
    static func line(_ node: Yams.Node) -> Int? { node.mark.map { $0.line } }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    static func bad(_ key: String, _ node: Yams.Node, _ why: String) -> PolicyError {
        PolicyError(.config, why, key: key, line: line(node))
    }

    static func keyName(_ node: Yams.Node) throws(PolicyError) -> String {
        guard case .scalar(let s) = node else { throw PolicyError(.config, "keys must be plain names", line: line(node)) }
        return s.string
    }

    static func mapping(_ node: Yams.Node, key: String) throws(PolicyError) -> Yams.Node.Mapping {
        guard case .mapping(let m) = node else { throw bad(key, node, "must be a mapping") }
        return m
    }

    static func scalar(_ node: Yams.Node, key: String, _ what: String) throws(PolicyError) -> Yams.Node.Scalar {
        guard case .scalar(let s) = node else { throw bad(key, node, "must be \(what)") }
        return s
    }

    static func string(_ node: Yams.Node, key: String) throws(PolicyError) -> String {
        let s = try scalar(node, key: key, "a string")
        if s.style == .plain, s.string == "~" || s.string == "null" { return "" }
        return s.string
    }

    static func int(_ node: Yams.Node, key: String) throws(PolicyError) -> Int {
        let s = try scalar(node, key: key, "an integer")
        guard s.style == .plain, let n = Int(s.string) else {
            throw bad(key, node, "must be an integer, not '\(s.string)'")
        }
        return n
    }

    static func bool(_ node: Yams.Node, key: String) throws(PolicyError) -> Bool {
        let s = try scalar(node, key: key, "true or false")
        guard s.style == .plain else { throw bad(key, node, "must be true or false, not '\(s.string)'") }
        switch s.string {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw bad(key, node, "must be true or false, not '\(s.string)'")
        }
    }
}
