import Foundation

/// A read-only view of a YAML value as Yams loads it (dictionaries, arrays, scalars), with lookups
/// that give a null `Manifest` instead of failing, so a test reads `deployment["spec"]["replicas"].int`
/// and compares the result.
struct Manifest: CustomStringConvertible {
    let value: Any?

    init(_ value: Any?) { self.value = value }

    subscript(key: String) -> Manifest {
        Manifest((value as? [String: Any])?[key])
    }

    subscript(index: Int) -> Manifest {
        guard let array = value as? [Any], array.indices.contains(index) else { return Manifest(nil) }
        return Manifest(array[index])
    }

    /// True for a missing value and for a YAML null (which Yams loads as `NSNull`).
    var isNull: Bool { value == nil || value is NSNull }

    var string: String? { value as? String }
    var int: Int? { value as? Int }
    var bool: Bool? { value as? Bool }
    var array: [Manifest] { (value as? [Any])?.map(Manifest.init) ?? [] }
    var strings: [String] { array.compactMap(\.string) }

    /// The entries of a mapping, or an empty dictionary.
    var dictionary: [String: Manifest] {
        (value as? [String: Any])?.mapValues(Manifest.init) ?? [:]
    }

    /// A mapping of strings to strings (labels, selectors, annotations, ConfigMap data).
    var stringMap: [String: String] {
        (value as? [String: Any])?.compactMapValues { $0 as? String } ?? [:]
    }

    // Kubernetes object shortcuts.
    var kind: String { self["kind"].string ?? "" }
    var apiVersion: String { self["apiVersion"].string ?? "" }
    var name: String { self["metadata"]["name"].string ?? "" }
    var namespace: String? { self["metadata"]["namespace"].string }
    var labels: [String: String] { self["metadata"]["labels"].stringMap }
    var annotations: [String: String] { self["metadata"]["annotations"].stringMap }
    /// "Kind namespace/name", for messages.
    var reference: String { "\(kind) \(namespace.map { $0 + "/" } ?? "")\(name)" }

    var description: String { String(describing: value ?? "null") }
}

extension [Manifest] {
    /// The objects of one kind.
    func all(_ kind: String) -> [Manifest] { filter { $0.kind == kind } }

    /// The one object of `kind` (and `name`, if given), or nil.
    func one(_ kind: String, named name: String? = nil) -> Manifest? {
        let matches = filter { $0.kind == kind && (name == nil || $0.name == name) }
        return matches.count == 1 ? matches[0] : nil
    }
}
