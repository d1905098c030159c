internal import CCurl
import Foundation
import WinnowCore

/// Spawning's Do-Not-Train registry, asked about candidate URLs before they are downloaded, in batches, with its
/// documented v2 protocol: a POST of newline-separated URLs (at most 10,000 a request) with
/// `Authorization: API KEY`, answered `{"urls": [{"url": ..., "optOut": true|false}, ...]}`. Answers are kept for
/// the run (up to `cacheLimit` URLs), so a URL seen twice is asked once. The key comes from the environment
/// (`SPAWNING_OPTS_KEY`, the name Spawning's own datadiligence package reads); it is never logged.
public final class SpawningRegistry {
    /// The service's address.
    public static let defaultURL = "https://opts-api.spawningaiapi.com/api/v2/query/urls/"
    /// The environment variable that holds the API key.
    public static let keyVariable = "SPAWNING_OPTS_KEY"
    /// The most URLs the service takes in one request.
    public static let maxBatch = 10_000

    public let url: String
    private let key: String
    private let userAgent: String
    private let guardian: AddressGuard
    private let connectTo: [String]
    private let caFile: String?
    private let timeoutSeconds: Double
    private let retries: Int
    private var cache: [String: Bool] = [:]
    private let cacheLimit: Int
    /// Requests sent and URLs asked, for the run's record.
    public private(set) var requests = 0
    public private(set) var asked = 0

    /// A client; throws when the key is not set (a run that asked for the registry must not run without it).
    public init(
        url: String = SpawningRegistry.defaultURL, environment: [String: String] = ProcessInfo.processInfo.environment,
        settings: FetchSettings, retries: Int = 3, cacheLimit: Int = 2_000_000
    ) throws {
        guard let key = environment[SpawningRegistry.keyVariable], !key.isEmpty else {
            throw WinnowError(
                .config,
                "fetch.spawning is on but \(SpawningRegistry.keyVariable) is not set (an API key from spawning.ai)")
        }
        self.url = url
        self.key = key
        userAgent = settings.userAgent
        guardian = AddressGuard(allowed: settings.allowedRanges)
        connectTo = settings.connectTo
        caFile = settings.caFile
        timeoutSeconds = max(settings.timeoutSeconds, 30)
        self.retries = retries
        self.cacheLimit = cacheLimit
    }

    /// Whether each of `urls` is opted out, by URL. Throws when the service cannot be asked (after retries): the
    /// caller decides what the unasked URLs become.
    public func optedOut(_ urls: [String]) throws -> [String: Bool] {
        var out: [String: Bool] = [:]
        var unknown: [String] = []
        var seen: Set<String> = []
        for u in urls {
            if let v = cache[u] { out[u] = v } else if seen.insert(u).inserted { unknown.append(u) }
        }
        var start = 0
        while start < unknown.count {
            let batch = Array(unknown[start..<min(unknown.count, start + SpawningRegistry.maxBatch)])
            start += batch.count
            let answers = try ask(batch)
            for u in batch {
                // A URL the answer leaves out is not opted out (the service lists what it knows).
                let v = answers[u] ?? false
                out[u] = v
                if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
                cache[u] = v
            }
        }
        return out
    }

    /// One request, retried on transport errors, 429 and 5xx with a short backoff.
    private func ask(_ batch: [String]) throws -> [String: Bool] {
        var lastError = ""
        for attempt in 0...retries {
            if attempt > 0 { Thread.sleep(forTimeInterval: min(8, 0.5 * pow(2, Double(attempt - 1)))) }
            requests += 1
            let (status, body, error) = post(Array(batch.joined(separator: "\n").utf8))
            if let error {
                lastError = error
                continue
            }
            if status == 429 || status >= 500 {
                lastError = "HTTP \(status)"
                continue
            }
            guard status == 200 else { throw WinnowError(.network, "\(url): HTTP \(status)") }
            guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
                let items = json["urls"] as? [[String: Any]]
            else {
                throw WinnowError(.network, "\(url): the answer is not {\"urls\": [...]}")
            }
            asked += batch.count
            // The answer lists the URLs in the order asked (Spawning's own client reads it by position); by name
            // when it does not hold one answer a URL.
            var out: [String: Bool] = [:]
            if items.count == batch.count {
                for (u, item) in zip(batch, items) where item["optOut"] as? Bool == true { out[u] = true }
            }
            for item in items {
                if let u = item["url"] as? String, let o = item["optOut"] as? Bool { out[u] = (out[u] ?? false) || o }
            }
            return out
        }
        throw WinnowError(.network, "\(url): \(lastError), after \(Words.count(retries + 1, "attempt"))")
    }

    /// A blocking POST with libcurl: the status, the body, or a transport error.
    private func post(_ body: [UInt8]) -> (Int, [UInt8], String?) {
        guard let e = curl_easy_init() else { return (0, [], "libcurl could not start a request") }
        defer { curl_easy_cleanup(e) }
        var headers: UnsafeMutablePointer<curl_slist>?
        headers = curl_slist_append(headers, "Content-Type: text/plain")
        headers = curl_slist_append(headers, "Authorization: API \(key)")
        defer { curl_slist_free_all(headers) }
        var connect: UnsafeMutablePointer<curl_slist>?
        for c in connectTo { connect = curl_slist_append(connect, c) }
        defer { if let connect { curl_slist_free_all(connect) } }
        let context = PostContext(guardian: guardian)
        let ctx = Unmanaged.passUnretained(context).toOpaque()
        let o = EasyHandle(easy: e)
        let result: CURLcode
        do throws(CurlError) {
            try o.set(CURLOPT_URL, url)
            try o.set(CURLOPT_PROTOCOLS_STR, "http,https")
            try o.set(CURLOPT_USERAGENT, userAgent)
            try o.set(CURLOPT_NOSIGNAL, 1)
            try o.set(CURLOPT_TIMEOUT_MS, Int(timeoutSeconds * 1000))
            try o.set(CURLOPT_HTTPHEADER, list: headers)
            if let connect { try o.set(CURLOPT_CONNECT_TO, list: connect) }
            if let ca = caFile { try o.set(CURLOPT_CAINFO, ca) }
            try o.set(CURLOPT_WRITEFUNCTION, callback: spawningWriteCallback)
            try o.set(CURLOPT_WRITEDATA, pointer: ctx)
            try o.set(openSocket: spawningOpenSocketCallback)
            try o.set(CURLOPT_OPENSOCKETDATA, pointer: ctx)
            // The body outlives the transfer: it is performed inside this closure.
            var setup: CurlError?
            result = body.withUnsafeBytes { b -> CURLcode in
                do throws(CurlError) {
                    try o.set(CURLOPT_POSTFIELDSIZE_LARGE, offset: curl_off_t(b.count))
                    try o.set(CURLOPT_POSTFIELDS, pointer: UnsafeMutableRawPointer(mutating: b.baseAddress))
                } catch {
                    setup = error
                    return CURLE_FAILED_INIT
                }
                return curl_easy_perform(e)
            }
            if let setup { throw setup }
        } catch {
            return (0, [], error.description)
        }
        if let r = context.refused { return (0, [], "address refused: \(r)") }
        guard result == CURLE_OK else { return (0, [], String(cString: curl_easy_strerror(result))) }
        var status = 0
        winnow_easy_getinfo_long(e, CURLINFO_RESPONSE_CODE, &status)
        return (status, context.body, nil)
    }
}

/// What a registry request's callbacks share.
private final class PostContext {
    let guardian: AddressGuard
    var refused: String?
    var body: [UInt8] = []
    init(guardian: AddressGuard) { self.guardian = guardian }
}

private let spawningWriteCallback: winnow_write_callback = { data, size, count, userdata in
    guard let userdata, let data else { return 0 }
    let c = Unmanaged<PostContext>.fromOpaque(userdata).takeUnretainedValue()
    let n = size * count
    if c.body.count + n > 64 << 20 { return 0 }  // an answer far beyond 10,000 URLs' worth
    data.withMemoryRebound(to: UInt8.self, capacity: n) {
        c.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n))
    }
    return n
}

private let spawningOpenSocketCallback: winnow_opensocket_callback = { clientp, purpose, address in
    guard let clientp, let address else { return CURL_SOCKET_BAD }
    let c = Unmanaged<PostContext>.fromOpaque(clientp).takeUnretainedValue()
    return c.guardian.openSocket(address, refused: &c.refused)
}
