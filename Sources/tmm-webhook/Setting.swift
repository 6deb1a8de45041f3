import ArgumentParser
import Glibc
import TMMApp

/// One way to read every setting: the flag when given, else its environment variable, else the default.
/// Flag and variable go through the same parser, and a bad value stops the program with a message that
/// names where it came from (`TMM_MAX_HEADER_BYTES='abc' is not ...`), never silently the default.
///
/// Options that have a variable are declared as `String?` so that ArgumentParser does not parse them a
/// second, different way; ``resolve(_:flag:env:default:_:)`` does.
struct Setting {
    /// What a parser says about a text it refuses: the expectation, e.g. "a whole number of bytes, at least 1024".
    struct Refusal: Error {
        var expected: String
        init(_ expected: String) { self.expected = expected }
    }

    /// A bad flag or variable, with its origin.
    struct BadValue: Error, CustomStringConvertible {
        var origin: String
        var value: String
        var expected: String
        var description: String { "\(origin)='\(value)' is not \(expected)" }
    }

    /// The value of the flag, else of the variable `env`, else `fallback`.
    static func resolve<T>(
        _ flagValue: String?, flag: String, env name: String?, default fallback: T, _ parse: (String) throws(Refusal) -> T
    ) throws(BadValue) -> T {
        if let flagValue { return try parseValue(flagValue, origin: flag, parse) }
        if let name, let text = environment(name) { return try parseValue(text, origin: name, parse) }
        return fallback
    }

    /// Like ``resolve(_:flag:env:default:_:)``, for settings without a default.
    static func resolve<T>(
        _ flagValue: String?, flag: String, env name: String?, _ parse: (String) throws(Refusal) -> T
    ) throws(BadValue) -> T? {
        if let flagValue { return try parseValue(flagValue, origin: flag, parse) }
        if let name, let text = environment(name) { return try parseValue(text, origin: name, parse) }
        return nil
    }

    private static func parseValue<T>(_ text: String, origin: String, _ parse: (String) throws(Refusal) -> T) throws(BadValue) -> T {
        do {
            return try parse(text)
        } catch {
            throw BadValue(origin: origin, value: text, expected: error.expected)
        }
    }

    /// A variable's value; unset and empty are the same (Kubernetes writes `value: ""` for "not set").
    static func environment(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let s = String(cString: value)
        return s.isEmpty ? nil : s
    }

    // MARK: Parsers

    /// Any non-empty text (paths, names).
    static func text(_ s: String) throws(Refusal) -> String {
        guard !s.allSatisfy({ $0 == " " }) else { throw Refusal("a non-empty value") }
        return s
    }

    /// A whole number within `range`.
    static func integer(_ range: ClosedRange<Int>, unit: String) -> (String) throws(Refusal) -> Int {
        { (s: String) throws(Refusal) -> Int in
            guard let n = Int(s), range.contains(n) else {
                let bounds = range.upperBound == Int.max ? "at least \(range.lowerBound)" : "from \(range.lowerBound) to \(range.upperBound)"
                throw Refusal("a whole number of \(unit), \(bounds)")
            }
            return n
        }
    }

    /// A duration: a number of seconds (`10`, `0.5`) or a Go duration (`10s`, `1m30s`, `500ms`), within
    /// `minimum` and a day.
    static func duration(minimum: Duration = .zero) -> (String) throws(Refusal) -> Duration {
        { (s: String) throws(Refusal) -> Duration in
            let refusal = Refusal(
                "a duration: seconds (10, 0.5) or a Go duration (10s, 1m30s, 500ms)"
                    + (minimum > .zero ? ", at least \(minimum)" : ""))
            let value: Duration
            if let seconds = Double(s) {
                guard seconds.isFinite, seconds >= 0, seconds <= 86400 else { throw refusal }
                value = .nanoseconds(Int64(seconds * 1e9))
            } else if let parsed = GoDuration.parse(s), parsed <= .seconds(86400) {
                value = parsed
            } else {
                throw refusal
            }
            guard value >= minimum else { throw refusal }
            return value
        }
    }

    /// `HOST:PORT`, `[IPv6]:PORT`.
    static func listenAddress(_ s: String) throws(Refusal) -> String {
        let refusal = Refusal("HOST:PORT (e.g. 0.0.0.0:8443, [::]:8443, 127.0.0.1:0)")
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port) else {
            throw refusal
        }
        let host = s[..<colon]
        guard !host.isEmpty else { throw refusal }
        if host.hasPrefix("[") != host.hasSuffix("]") { throw refusal }
        return s
    }

    /// One of `choices`.
    static func oneOf(_ choices: [String]) -> (String) throws(Refusal) -> String {
        { (s: String) throws(Refusal) -> String in
            guard choices.contains(s) else { throw Refusal("one of \(choices.joined(separator: ", "))") }
            return s
        }
    }

    /// A comma-separated list of non-empty items (paths).
    static func list(_ s: String) throws(Refusal) -> [String] {
        let items = s.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !items.contains(where: \.isEmpty) else { throw Refusal("a comma-separated list of paths without empty items") }
        return items
    }
}

/// Every variable the program reads, for the check that warns about misspelt ones.
let knownEnvironmentVariables: Set<String> = [
    "TMM_LISTEN", "TMM_TLS_CERT", "TMM_TLS_KEY", "TMM_CLIENT_CA", "TMM_MAX_HEADER_BYTES", "TMM_MAX_BODY_BYTES", "TMM_MAX_BUFFERED_BYTES",
    "TMM_HANDSHAKE_TIMEOUT", "TMM_IDLE_TIMEOUT", "TMM_SHUTDOWN_GRACE", "TMM_CERT_CHECK_INTERVAL", "TMM_EVENT_LOOPS",
    "TMM_STATE", "TMM_CONFIG", "TMM_NAMESPACE", "TMM_POD_NAME", "TMM_POLICY_CONFIGMAP",
    "TMM_FRESHNESS_WAIT", "TMM_ANNOTATION_GRACE", "TMM_LOG_FORMAT", "TMM_LOG_LEVEL",
]

/// `TMM_*` variables the program does not know: almost always a typo that would otherwise be ignored.
func unknownEnvironmentVariables() -> [String] {
    var unknown: [String] = []
    var pointer = environ
    while let entry = pointer.pointee {
        let text = String(cString: entry)
        if text.hasPrefix("TMM_"), let eq = text.firstIndex(of: "=") {
            let name = String(text[..<eq])
            if !knownEnvironmentVariables.contains(name) { unknown.append(name) }
        }
        pointer += 1
    }
    return unknown.sorted()
}
