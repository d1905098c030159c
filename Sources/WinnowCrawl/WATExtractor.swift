internal import CScan
import Foundation
import WinnowCore

/// Counts of what the reader skipped or repaired below the record level (a link without `url`, a URL that is not
/// http(s), a caption with invalid UTF-8...), by reason code.
public struct ParseCounters: Sendable, Equatable {
    /// Count by reason code.
    public var counts: [String: Int] = [:]

    /// No counts.
    public init() {}

    /// Adds one to `code`.
    public mutating func add(_ code: String, _ n: Int = 1) { counts[code, default: 0] += n }

    /// Adds another set of counts.
    public mutating func merge(_ other: ParseCounters) {
        for (k, v) in other.counts { counts[k, default: 0] += v }
    }
}

/// Turns WAT metadata records into candidates: every `IMG@/src` link of an HTML page (or its lazy-loading attribute,
/// where the WAT has one), with its alt text, resolved against `Head.Base` or the page URL, and the page's opt-out
/// signals. Scans the JSON without building it, so it runs near decompression speed.
public struct WATExtractor: Sendable {
    /// Use the `title` attribute as the caption when `alt` is missing or empty.
    public var titleFallback: Bool

    /// Creates an extractor.
    public init(titleFallback: Bool = false) {
        self.titleFallback = titleFallback
    }

    /// Candidates of one WARC record (none for records that are not HTML response metadata). Throws a `RecordError`
    /// when the record's JSON is malformed.
    public func candidates(from record: WARCRecord, inputFile: String) throws -> [Candidate] {
        var out: [Candidate] = []
        var counters = ParseCounters()
        try record.block.withUnsafeBytes { block in
            try extract(
                headers: record.headers, block: block, offset: record.offset, inputFile: inputFile, counters: &counters
            ) { out.append($0) }
        }
        return out
    }

    /// Extracts the candidates of a record given its WARC headers and block.
    func extract(
        headers: [(String, String)], block: UnsafeRawBufferPointer, offset: Int64, inputFile: String,
        counters: inout ParseCounters, emit: (consuming Candidate) -> Void
    ) throws {
        try extract(
            header: { name in headers.first { asciiEqualFold($0.0, name) }?.1 }, block: block, offset: offset,
            inputFile: inputFile, counters: &counters, emit: emit)
    }

    /// Extracts the candidates of a record; `header` looks up its WARC header fields.
    func extract(
        header: (String) -> String?, block: UnsafeRawBufferPointer, offset: Int64, inputFile: String,
        counters: inout ParseCounters, emit: (consuming Candidate) -> Void
    ) throws {
        var page = WATPage()
        try extract(
            header: header, block: block, offset: offset, inputFile: inputFile, counters: &counters, page: &page,
            emit: emit)
    }

    /// Extracts the candidates of a record, reusing `page`'s storage (a reader keeps one for all its records).
    func extract(
        header: (String) -> String?, block: UnsafeRawBufferPointer, offset: Int64, inputFile: String,
        counters: inout ParseCounters, page: inout WATPage, emit: (consuming Candidate) -> Void
    ) throws {
        let type = header("WARC-Type")
        if type == "response" {
            // A WARC (not WAT) record: the HTML itself.
            try HTMLExtractor(titleFallback: titleFallback).extract(
                header: header, block: block, offset: offset, inputFile: inputFile, counters: &counters, emit: emit)
            return
        }
        guard type == "metadata", asciiHasPrefixFold(header("Content-Type") ?? "", "application/json")
        else { return }
        guard block.count > 0 else { return }
        page.reset()
        do {
            var s = JSONScanner(block)
            try page.scan(&s)
        } catch {
            throw RecordError(
                code: "bad_json", path: inputFile, offset: offset,
                message: "malformed WAT JSON at byte \(error.position) of the record: \(error.message)")
        }
        guard page.isResponse, page.hasHTML else { return }
        try page.emit(
            block: block, targetURI: header("WARC-Target-URI"), offset: offset, inputFile: inputFile,
            titleFallback: titleFallback, counters: &counters, emit: emit)
    }

    static func stripAngles(_ s: String) -> String {
        let t = s.trimmingWhitespace()
        if t.hasPrefix("<") && t.hasSuffix(">") { return String(t.dropFirst().dropLast()) }
        return t
    }
}

/// What one WAT record says about a page, as slices of its JSON.
struct WATPage {
    typealias Slice = JSONScanner.Slice
    var isResponse = false
    var hasHTML = false
    var target = Slice.empty
    var date = Slice.empty
    var recordID = Slice.empty
    var base = Slice.empty
    var metas: [(name: Slice, content: Slice, httpEquiv: Slice)] = []
    var headers: [(Slice, Slice)] = []
    var links: [Link] = []
    /// Scratch for `scanLinks`: offsets of the link objects to read.
    var linkStarts: [Int] = []

    struct Link {
        var url = Slice.empty
        var hasURL = false
        var alt = Slice.empty
        var title = Slice.empty
        var lazy: [(String, Slice)] = []
    }

    /// Empties the page for the next record, keeping its arrays' storage.
    mutating func reset() {
        isResponse = false
        hasHTML = false
        target = .empty
        date = .empty
        recordID = .empty
        base = .empty
        metas.removeAll(keepingCapacity: true)
        headers.removeAll(keepingCapacity: true)
        links.removeAll(keepingCapacity: true)
    }

    static let lazyKeys: [(StaticString, String)] = [
        ("data-src", "data-src"), ("data-lazy-src", "data-lazy-src"), ("data-original", "data-original"),
        ("data-srcset", "data-srcset"), ("srcset", "srcset"), ("data-lazy-srcset", "data-lazy-srcset"),
    ]

    mutating func scan(_ s: inout JSONScanner) throws(JSONScanner.Failure) {
        try s.object { (s, key) throws(JSONScanner.Failure) in
            if s.equals(key, "Envelope") { try scanEnvelope(&s) } else { try s.skipValue() }
        }
    }

    private mutating func scanEnvelope(_ s: inout JSONScanner) throws(JSONScanner.Failure) {
        try s.object { (s, key) throws(JSONScanner.Failure) in
            if s.equals(key, "WARC-Header-Metadata") {
                try s.object { (s, k) throws(JSONScanner.Failure) in
                    if s.peek() != 0x22 { return try s.skipValue() }
                    let v = try s.string()
                    if s.equals(k, "WARC-Type") {
                        isResponse = s.equals(v, "response")
                    } else if s.equals(k, "WARC-Target-URI") {
                        target = v
                    } else if s.equals(k, "WARC-Date") {
                        date = v
                    } else if s.equals(k, "WARC-Record-ID") {
                        recordID = v
                    }
                }
            } else if s.equals(key, "Payload-Metadata") {
                try s.object { (s, k) throws(JSONScanner.Failure) in
                    if s.equals(k, "HTTP-Response-Metadata") { try scanHTTP(&s) } else { try s.skipValue() }
                }
            } else {
                try s.skipValue()
            }
        }
    }

    private mutating func scanHTTP(_ s: inout JSONScanner) throws(JSONScanner.Failure) {
        try s.object { (s, key) throws(JSONScanner.Failure) in
            if s.equals(key, "Headers") {
                try s.object { (s, k) throws(JSONScanner.Failure) in
                    if s.peek() == 0x22 { headers.append((k, try s.string())) } else { try s.skipValue() }
                }
            } else if s.equals(key, "HTML-Metadata") {
                hasHTML = true
                try s.object { (s, k) throws(JSONScanner.Failure) in
                    if s.equals(k, "Head") {
                        try scanHead(&s)
                    } else if s.equals(k, "Links") {
                        try scanLinks(&s)
                    } else {
                        try s.skipValue()
                    }
                }
            } else {
                try s.skipValue()
            }
        }
    }

    private mutating func scanHead(_ s: inout JSONScanner) throws(JSONScanner.Failure) {
        try s.object { (s, key) throws(JSONScanner.Failure) in
            if s.equals(key, "Base"), s.peek() == 0x22 {
                base = try s.string()
            } else if s.equals(key, "Metas") {
                try s.array { (s) throws(JSONScanner.Failure) in
                    guard s.peek() == 0x7b else { return try s.skipValue() }
                    var name = Slice.empty
                    var content = Slice.empty
                    var equiv = Slice.empty
                    try s.object { (s, k) throws(JSONScanner.Failure) in
                        if s.peek() != 0x22 { return try s.skipValue() }
                        let v = try s.string()
                        if s.equals(k, "name") {
                            name = v
                        } else if s.equals(k, "content") {
                            content = v
                        } else if s.equals(k, "http-equiv") {
                            equiv = v
                        }
                    }
                    metas.append((name, content, equiv))
                }
            } else {
                try s.skipValue()
            }
        }
    }

    /// The `Links` array: most of a page's JSON, and mostly anchors, scripts and styles. A C scan steps over the
    /// elements whose first member says they are not images and lists the rest, which `scanLink` reads.
    private mutating func scanLinks(_ s: inout JSONScanner) throws(JSONScanner.Failure) {
        try s.expect(0x5b)
        if linkStarts.isEmpty { linkStarts = [Int](repeating: 0, count: 256) }
        while true {
            var found = 0
            let end = linkStarts.withUnsafeMutableBufferPointer {
                winnow_wat_image_links(s.p, s.i, s.count, $0.baseAddress, $0.count, &found)
            }
            if end == -2 {
                linkStarts = [Int](repeating: 0, count: linkStarts.count * 2)
                continue
            }
            if end < 0 {
                s.i = s.count
                throw s.fail("unterminated Links array")
            }
            for k in 0..<found {
                var element = s
                element.i = linkStarts[k]
                try scanLink(&element)
            }
            s.i = end
            return
        }
    }

    private mutating func scanLink(_ s: inout JSONScanner) throws(JSONScanner.Failure) {
        guard s.peek() == 0x7b else { return try s.skipValue() }
        // Most links are anchors, scripts and styles, and the generator writes "path" first: once the path says the
        // link is not an image, the rest of the object is skipped without looking at its keys.
        try s.expect(0x7b)
        if s.peek() == 0x7d {
            s.i += 1
            return
        }
        var isImage: Bool?
        var link = Link()
        while true {
            let k = try s.string()
            try s.expect(0x3a)
            if s.peek() != 0x22 {
                try s.skipValue()
            } else {
                let v = try s.string()
                if s.equals(k, "path") {
                    isImage = s.equals(v, "IMG@/src")
                    if isImage == false { return try s.skipRestOfObject() }
                } else if s.equals(k, "url") {
                    link.url = v
                    link.hasURL = true
                } else if s.equals(k, "alt") {
                    link.alt = v
                } else if s.equals(k, "title") {
                    link.title = v
                } else {
                    for (key, name) in WATPage.lazyKeys where s.equals(k, key) { link.lazy.append((name, v)) }
                }
            }
            let c = s.peek()
            s.i += 1
            if c == 0x2c { continue }
            if c == 0x7d { break }
            s.i -= 1
            throw s.fail("expected ',' or '}' in a link")
        }
        if isImage == true { links.append(link) }
    }

    func emit(
        block: UnsafeRawBufferPointer, targetURI: String?, offset: Int64, inputFile: String, titleFallback: Bool,
        counters: inout ParseCounters, emit: (consuming Candidate) -> Void
    ) throws {
        let s = JSONScanner(block)
        var repaired = false
        func text(_ slice: Slice) -> String { s.text(slice, repaired: &repaired) }
        let pageText = target.isEmpty ? (targetURI ?? "") : text(target)
        let pageInput = WATExtractor.stripAngles(TextCleaner.decodeEntities(pageText))
        let pageURL = WebURL.fastParse(pageInput) ?? (try? WebURL.parse(pageInput))
        var baseURL = pageURL
        if !base.isEmpty, let b = try? WebURL.parse(TextCleaner.decodeEntities(text(base)), base: pageURL) {
            baseURL = b
        }
        let prepared = baseURL.map(WebURL.Base.init)
        var signals: [String] = []
        // Only the metas and headers that can carry an opt-out become strings.
        func signalMeta(_ n: Slice) -> Bool {
            s.equalsLower(n, "robots") || s.equalsLower(n, "ccbot") || s.equalsLower(n, "winnowbot")
                || s.equalsLower(n, "tdm-reservation") || s.equalsLower(n, "tdm-policy")
        }
        func signalHeader(_ n: Slice) -> Bool {
            s.equalsLower(n, "x-robots-tag") || s.equalsLower(n, "tdm-reservation") || s.equalsLower(n, "tdm-policy")
        }
        for m in metas {
            if !m.name.isEmpty && signalMeta(m.name) {
                PageSignals.meta(name: text(m.name), content: text(m.content), into: &signals)
            }
            if !m.httpEquiv.isEmpty && signalHeader(m.httpEquiv) {
                PageSignals.header(name: text(m.httpEquiv), value: text(m.content), into: &signals)
            }
        }
        for (k, v) in headers where signalHeader(k) {
            PageSignals.header(name: text(k), value: text(v), into: &signals)
        }
        let provenance = Provenance(
            inputFile: inputFile, recordOffset: offset, recordID: recordID.isEmpty ? nil : text(recordID),
            pageDate: date.isEmpty ? nil : text(date))
        let page = pageURL?.href ?? WATExtractor.stripAngles(pageText)
        for link in links {
            guard link.hasURL || !link.lazy.isEmpty else {
                counters.add("link_without_url")
                continue
            }
            repaired = false
            var raw = link.hasURL ? text(link.url) : ""
            var attribute = "src"
            // Lazy loading: the real image is in data-src (or a srcset) when src is missing or a placeholder.
            if let (name, value) = link.lazy.first, LazyImage.isPlaceholder(raw) {
                let v = text(value)
                raw = name.hasSuffix("srcset") ? (LazyImage.largest(srcset: v) ?? "") : v
                attribute = name
            }
            if repaired {
                counters.add("url_invalid_utf8")
                continue
            }
            let href: String
            let decoded = TextCleaner.decodeEntities(raw)
            if let fast = WebURL.fastHref(decoded, prepared: prepared) {
                href = fast
            } else {
                do {
                    href = try WebURL.parse(decoded, base: baseURL).href
                } catch {
                    counters.add(raw.lowercased().hasPrefix("data:") ? "url_data" : "url_\(error.rawValue)")
                    continue
                }
            }
            var caption = TextCleaner.clean(text(link.alt))
            if caption.isEmpty && titleFallback { caption = TextCleaner.clean(text(link.title)) }
            if repaired { counters.add("caption_utf8_repaired") }
            var c = Candidate(
                url: href, caption: caption, pageURL: page, provenance: provenance, optOutSignals: signals)
            c.urlAttribute = attribute
            emit(c)
        }
    }
}

/// Lazy-loading conventions: placeholder `src` values and `srcset` candidates.
enum LazyImage {
    /// Whether a `src` value is a stand-in for an image loaded by script.
    static func isPlaceholder(_ src: String) -> Bool {
        let t = src.trimmingWhitespace().lowercased()
        if t.isEmpty || t.hasPrefix("data:") || t == "#" || t == "about:blank" { return true }
        let name = t.split(separator: "/").last.map(String.init) ?? t
        return [
            "blank.gif", "spacer.gif", "pixel.gif", "transparent.gif", "1x1.gif", "lazy.gif", "loading.gif",
            "placeholder.png", "placeholder.gif", "blank.png", "lazy.png",
        ].contains(name.split(separator: "?").first.map(String.init) ?? name)
    }

    /// The URL of the largest candidate of a `srcset` (by `w`, then `x` descriptor; the last one without a descriptor).
    static func largest(srcset: String) -> String? {
        var best: (String, Double)?
        for item in srcset.split(separator: ",") {
            let parts = item.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
            guard let url = parts.first else { continue }
            var size = 1.0
            if parts.count > 1 {
                let d = parts[1].lowercased()
                if d.hasSuffix("w"), let v = Double(d.dropLast()) {
                    size = v * 1000
                } else if d.hasSuffix("x"), let v = Double(d.dropLast()) {
                    size = v
                }
            }
            if best == nil || size >= best!.1 { best = (String(url), size) }  // ok: checked for nil just before
        }
        return best?.0
    }
}

/// URL clean-up and resolution (WHATWG, see `WebURL`).
public enum URLNormalizer {
    /// Resolves `raw` (HTML entities decoded first) against `base`; nil unless it is an http(s) URL.
    public static func resolve(_ raw: String, against base: String?) -> String? {
        let b = base.flatMap { try? WebURL.parse($0) }
        return try? WebURL.parse(TextCleaner.decodeEntities(raw), base: b).href
    }
}

/// ASCII case-insensitive equality (header names).
func asciiEqualFold(_ a: String, _ b: String) -> Bool {
    let x = a.utf8
    let y = b.utf8
    guard x.count == y.count else { return false }
    for (c, d) in zip(x, y) where c != d {
        let lc = c >= 0x41 && c <= 0x5a ? c + 0x20 : c
        let ld = d >= 0x41 && d <= 0x5a ? d + 0x20 : d
        if lc != ld { return false }
    }
    return true
}

/// Whether `s` starts with the lower-case ASCII `prefix`, ignoring ASCII case.
func asciiHasPrefixFold(_ s: String, _ prefix: String) -> Bool {
    let x = s.utf8
    let y = prefix.utf8
    guard x.count >= y.count else { return false }
    for (c, d) in zip(x, y) where c != d {
        if !(c >= 0x41 && c <= 0x5a && c + 0x20 == d) { return false }
    }
    return true
}

/// Whether `s` contains the ASCII byte `byte` (memchr over its UTF-8, when contiguous).
@inline(__always) func hasByte(_ s: String, _ byte: UInt8) -> Bool {
    if let found = s.utf8.withContiguousStorageIfAvailable({ b in
        b.baseAddress.map { memchr($0, Int32(byte), b.count) != nil } ?? false
    }) {
        return found
    }
    return s.utf8.contains(byte)
}
