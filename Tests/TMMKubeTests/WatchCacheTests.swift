import TMMTestSupport
import Foundation
import Logging
import Testing
import TMMJSON
import TMMKube
import TMMTransport

/// A store that keeps each object's name and bytes: enough to see what the cache did, with no policy.
struct NamesStore: WatchCacheStore {
    enum Resource: String, WatchedResource {
        case nodes, pods, poddisruptionbudgets
        var name: String { rawValue }
        var path: String {
            switch self {
            case .nodes: "/api/v1/nodes"
            case .pods: "/api/v1/pods"
            case .poddisruptionbudgets: "/apis/policy/v1/poddisruptionbudgets"
            }
        }
    }

    var objects: [Resource: [String: [UInt8]]] = [:]
    /// What each relist in progress has seen (the resources list concurrently, on their own threads).
    private var listed: [Resource: Set<String>] = [:]

    func count(_ resource: Resource) -> Int { objects[resource]?.count ?? 0 }
    func has(_ resource: Resource, _ key: String) -> Bool { objects[resource]?[key] != nil }

    mutating func beginList(_ resource: Resource) { listed[resource] = [] }

    mutating func mergeListPage(_ resource: Resource, page: [UInt8]) throws(KubeError) {
        for item in try KubeList.itemMetadata(page) {
            let key = item.namespace.isEmpty ? item.name : "\(item.namespace)/\(item.name)"
            objects[resource, default: [:]][key] = []
            listed[resource, default: []].insert(key)
        }
    }

    mutating func endList(_ resource: Resource) -> (objects: Int, removed: Int) {
        let seen = listed.removeValue(forKey: resource) ?? []
        let gone = (objects[resource] ?? [:]).keys.filter { !seen.contains($0) }
        for key in gone { objects[resource]?[key] = nil }
        return (seen.count, gone.count)
    }

    mutating func apply(_ resource: Resource, event: KubeWatchEvent) throws(KubeError) {
        let key = event.namespace.isEmpty ? event.name : "\(event.namespace)/\(event.name)"
        objects[resource, default: [:]][key] = event.type == .deleted ? nil : event.objectBytes
    }
}

/// The watch cache against the fake API server's real wire format.
@Suite(.serialized) struct WatchCacheTests {
    func cache(_ fake: FakeAPIServer, maxQuiet: Duration = .seconds(150)) throws -> WatchCache<NamesStore> {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var settings = WatchCache<NamesStore>.Settings()
        settings.pageSize = 2
        settings.watchTimeoutSeconds = 60
        settings.maxQuiet = maxQuiet
        let cache = WatchCache(client: try KubeClient(config: fake.config()), store: NamesStore(), settings: settings, logger: logger)
        cache.start()
        return cache
    }

    func line(_ json: JSON) -> [UInt8] { Array(json.serialized.utf8) + [0x0A] }

    @Test func watchEventsAndBookmarksUpdateTheCache() throws {
        let fake = try FakeAPIServer()
        defer { fake.stop() }
        fake.api.setWatchScript([.pause(milliseconds: 60_000)])
        var db0 = try #require(fake.api.object("/api/v1/namespaces/store/pods/db-0"))
        var added = db0
        if case .object(var o) = added, case .object(var m) = o["metadata"]! {
            m["name"] = "db-9"
            m["resourceVersion"] = "990"
            o["metadata"] = .object(m)
            added = .object(o)
        }
        if case .object(var o) = db0, case .object(var m) = o["metadata"]! {
            m["resourceVersion"] = "991"
            o["metadata"] = .object(m)
            db0 = .object(o)
        }
        fake.api.queueWatchScripts(
            [[
                .event(line(["type": "ADDED", "object": added])),
                .event(line(["type": "DELETED", "object": db0])),
                .event(line(["type": "BOOKMARK", "object": ["kind": "Pod", "apiVersion": "v1", "metadata": ["resourceVersion": "999"]]])),
                .pause(milliseconds: 60_000),
            ]], for: "/api/v1/pods")
        let cache = try cache(fake)
        defer { cache.stop() }
        try waitUntil("the events", timeout: 10) {
            cache.withStore { store, status in
                store.has(.pods, "store/db-9") && !store.has(.pods, "store/db-0") && status[.pods]!.resourceVersion == "999"
            }
        }
        #expect(cache.withStore { store, _ in store.count(.pods) } == 3)
        // The event's object is kept verbatim: decoded once, by the store.
        let bytes = cache.withStore { store, _ in store.objects[.pods]?["store/db-9"] } ?? []
        #expect((try? JSON.parse(bytes))?.value(at: "metadata", "name")?.string == "db-9")
    }

    @Test func relistsAfterA410AndResumesAfterACutStream() throws {
        let fake = try FakeAPIServer()
        defer { fake.stop() }
        fake.api.setWatchScript([.pause(milliseconds: 60_000)])
        let expired = Array("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\",\"message\":\"too old resource version: 1 (227)\",\"reason\":\"Expired\",\"code\":410}}\n".utf8)
        fake.api.queueWatchScripts([[.event(expired)]], for: "/api/v1/nodes")
        fake.api.queueWatchScripts([[.cut]], for: "/apis/policy/v1/poddisruptionbudgets")
        let cache = try cache(fake)
        defer { cache.stop() }
        func requests(_ prefix: String) -> [String] { fake.api.requests.map(\.target).filter { $0.hasPrefix(prefix) } }
        try waitUntil("a relist of nodes", timeout: 10) { requests("/api/v1/nodes?limit=").count >= 2 }
        try waitUntil("a second budget watch", timeout: 10) { requests("/apis/policy/v1/poddisruptionbudgets?watch").count >= 2 }
        // The cut stream resumed from the list's resourceVersion without listing again.
        #expect(requests("/apis/policy/v1/poddisruptionbudgets?limit=").count == 1)
        let watches = requests("/apis/policy/v1/poddisruptionbudgets?watch")
        let version = cache.status[.poddisruptionbudgets]!.resourceVersion
        #expect(watches.last?.contains("resourceVersion=\(version)") == true, "\(watches)")
        try waitUntil("sync", timeout: 10) { cache.isSynced }
        #expect(cache.withStore { store, _ in store.count(.nodes) } == 3)
    }

    @Test func notReadyUntilSyncedAndStaleWhenTheAPIServerIsAhead() throws {
        let fake = try FakeAPIServer()
        fake.api.setWatchScript([.pause(milliseconds: 60_000)])
        fake.api.setDelay(seconds: 0.5)
        let cache = try cache(fake)
        defer { cache.stop() }
        #expect(!cache.isSynced)
        #expect(cache.waitUntilFresh(resourceVersion: 1, wait: .milliseconds(50)) != nil)
        fake.api.setDelay(seconds: 0)
        try waitUntil("sync", timeout: 10) { cache.isSynced }
        // Quiet, open watches count as current once nothing arrives for a moment.
        #expect(cache.waitUntilFresh(resourceVersion: 10_000, wait: .seconds(1)) == nil)
        // Without a watch (the server is gone), a cache behind the API server is stale.
        fake.stop()
        try waitUntil("the watches to drop", timeout: 10) { cache.status.values.allSatisfy { !$0.watching } }
        let stale = cache.waitUntilFresh(resourceVersion: 10_000, wait: .milliseconds(300))
        #expect(stale?.contains("behind the API server") == true, "\(stale ?? "fresh")")
    }

    /// A watch the API server has not accepted yet (no answer to the request: right after a restart its
    /// own cache may take seconds) delivers nothing, and must not pass for a quiet one.
    @Test func aWatchNotYetAcceptedIsNotTrusted() throws {
        let fake = try FakeAPIServer()
        defer { fake.stop() }
        fake.api.setWatchScript([.pause(milliseconds: 60_000)])
        // The first budget watch ends after 2 s; the next one is asked for while the server answers nothing.
        fake.api.queueWatchScripts([[.pause(milliseconds: 2_000)]], for: "/apis/policy/v1/poddisruptionbudgets")
        let cache = try cache(fake)
        defer { cache.stop() }
        try waitUntil("sync", timeout: 10) { cache.isSynced }
        func budgetWatches() -> Int { fake.api.requests.count { $0.target.hasPrefix("/apis/policy/v1/poddisruptionbudgets?watch") } }
        // The delay applies to requests received after it is set: the first watch must be in before it
        // (the sync can end before that watch is asked for; once it came under the delay, and no second
        // watch followed for a minute).
        try waitUntil("the first budget watch", timeout: 10) { budgetWatches() >= 1 }
        fake.api.setDelay(seconds: 60)
        try waitUntil("the budget watch asked for again", timeout: 10) { budgetWatches() >= 2 }
        let verdict = cache.waitUntilFresh(resourceVersion: 10_000, wait: .milliseconds(500))
        #expect(verdict?.contains("poddisruptionbudgets") == true && verdict?.contains("watch not connected") == true, "\(verdict ?? "fresh")")
        #expect(cache.status[.poddisruptionbudgets]?.watching == false)
    }

    /// A watch that stays open but sends nothing (no events, no bookmarks) stops counting as current.
    @Test func aStalledWatchGoesStale() throws {
        let fake = try FakeAPIServer()
        defer { fake.stop() }
        fake.api.setWatchScript([.pause(milliseconds: 60_000)])
        // Long enough that the check of a fresh cache right after the sync holds on a busy machine.
        let cache = try cache(fake, maxQuiet: .seconds(3))
        defer { cache.stop() }
        try waitUntil("sync", timeout: 10) { cache.isSynced }
        #expect(cache.waitUntilFresh(resourceVersion: 10_000, wait: .seconds(1)) == nil)
        // Once the watch has been silent for longer than maxQuiet, the cache is stale.
        var stale: String?
        let wentStale = waitUntil(timeout: 10) {
            stale = cache.waitUntilFresh(resourceVersion: 10_000, wait: .milliseconds(300))
            return stale != nil
        }
        #expect(wentStale, "still fresh 10 s after the watch fell silent")
        #expect(stale?.contains("watch silent") == true, "\(stale ?? "fresh")")
    }
}
