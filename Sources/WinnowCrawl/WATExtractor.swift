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
            ) { (c: consuming Candidate) in out.append(consume c) }
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
        try extract(
            header: header, block: block, offset: offset, inputFile: inputFile, counters: &counters, page: WATPage(),
            emit: emit)
    }

    /// Extracts the candidates of a record, reusing `page`'s storage (a reader keeps one for all its records).
    func extract(
        header: (String) -> String?, block: UnsafeRawBufferPointer, offset: Int64, inputFile: String,
        counters: inout ParseCounters, page: WATPage, emit: (consuming Candidate) -> Void
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
        try extractWAT(
            targetURI: { header("WARC-Target-URI") }, block: block, offset: offset, inputFile: inputFile,
            counters: &counters, page: page, emit: emit)
    }

    /// Extracts the candidates of a record split from a gzip member: WAT metadata records are recognised from the
    /// header bytes, without making strings of them.
    func extract(
        fields: RecordSplitter.Fields, block: UnsafeRawBufferPointer, offset: Int64, inputFile: String,
        counters: inout ParseCounters, page: WATPage, emit: (consuming Candidate) -> Void
    ) throws {
        guard fields.valueEquals("WARC-Type", "metadata") else {
            try extract(
                header: fields.value, block: block, offset: offset, inputFile: inputFile, counters: &counters,
                page: page, emit: emit)
            return
        }
        guard fields.valueHasPrefixFold("Content-Type", "application/json") else { return }
        try extractWAT(
            targetURI: { fields.value("WARC-Target-URI") }, block: block, offset: offset, inputFile: inputFile,
            counters: &counters, page: page, emit: emit)
    }

    /// The candidates of a WAT metadata record; `targetURI` is asked only when the JSON has no target.
    private func extractWAT(
        targetURI: () -> String?, block: UnsafeRawBufferPointer, offset: Int64, inputFile: String,
        counters: inout ParseCounters, page: WATPage, emit: (consuming Candidate) -> Void
    ) throws {
        guard block.count > 0 else { return }
        if let (position, message) = page.scan(block) {
            throw RecordError(
                code: "bad_json", path: inputFile, offset: offset,
                message: "malformed WAT JSON at byte \(position) of the record: \(message)")
        }
        // A page without image links (a third of them) yields nothing: its URL, signals and provenance are not made.
        guard page.raw.is_response != 0, page.raw.has_html != 0, page.raw.links_count > 0 else { return }
        try page.emit(
            block: block, targetURI: targetURI, offset: offset, inputFile: inputFile, titleFallback: titleFallback,
            counters: &counters, emit: emit)
    }

    static func stripAngles(_ s: String) -> String {
        let t = s.trimmingWhitespace()
        if t.hasPrefix("<") && t.hasSuffix(">") { return String(t.dropFirst().dropLast()) }
        return t
    }
}

/// What one WAT record says about a page, as slices of its JSON (the walk is `winnow_wat_scan`), in arrays that a
/// reader keeps from record to record. Not thread-safe: one per reader.
final class WATPage {
    // Exclusivity unchecked: a page belongs to one reader thread, and no access to these overlaps another; the dynamic
    // checks of each access, a few per link, were a measurable part of the read.
    typealias Slice = JSONScanner.Slice
    @exclusivity(unchecked) var raw: winnow_wat_page
    /// Whether the common cases take the byte-level paths (tests turn it off to compare them with the full ones).
    @exclusivity(unchecked) var fastPaths = true
    /// Links the C path turned into candidates (for tests).
    @exclusivity(unchecked) var fastLinks = 0
    /// Room for `winnow_wat_link_fast`'s URL and caption.
    @exclusivity(unchecked) private var scratch = ScratchBytes(capacity: 4096)
    /// The page URL that `winnow_wat_page_url` wrote, which the page's base points into.
    @exclusivity(unchecked) private var pageScratch = ScratchBytes(capacity: 1024)

    init() {
        raw = winnow_wat_page_on(
            .allocate(capacity: 16), 16, .allocate(capacity: 32), 32, .allocate(capacity: 64), 64,
            .allocate(capacity: 256), 256)
    }

    deinit {
        raw.metas.deallocate()
        raw.headers.deallocate()
        raw.links.deallocate()
        raw.starts.deallocate()
        scratch.deallocate()
        pageScratch.deallocate()
    }

    /// Reads the record's JSON; where and why it is malformed, or nil.
    func scan(_ block: UnsafeRawBufferPointer) -> (position: Int, message: String)? {
        let p = block.baseAddress!.assumingMemoryBound(to: UInt8.self)  // ok: callers skip empty blocks
        while true {
            let rc = winnow_wat_scan(p, block.count, &raw)
            if rc == WINNOW_WAT_OK { return nil }
            if rc == WINNOW_WAT_MALFORMED {
                return (raw.error_position, raw.error_message.map { String(cString: $0) } ?? "malformed JSON")
            }
            // An array is full: the ones at capacity grow (the link starts when none is), and the scan starts over.
            var grew = false
            func grow<T>(_ p: inout UnsafeMutablePointer<T>?, _ count: Int, _ capacity: inout Int) {
                guard count == capacity else { return }
                let bigger = UnsafeMutablePointer<T>.allocate(capacity: capacity * 2)
                p?.deallocate()
                p = bigger
                capacity *= 2
                grew = true
            }
            var r = raw
            grow(&r.metas, r.metas_count, &r.metas_capacity)
            grow(&r.headers, r.headers_count, &r.headers_capacity)
            grow(&r.links, r.links_count, &r.links_capacity)
            if !grew { grow(&r.starts, r.starts_capacity, &r.starts_capacity) }
            raw = r
        }
    }

    static func slice(_ s: winnow_slice) -> Slice { Slice(start: s.start, end: s.end, hasEscapes: s.escapes != 0) }

    func emit(
        block: UnsafeRawBufferPointer, targetURI: () -> String?, offset: Int64, inputFile: String, titleFallback: Bool,
        counters: inout ParseCounters, emit: (consuming Candidate) -> Void
    ) throws {
        let s = JSONScanner(block)
        var repaired = false
        func text(_ slice: winnow_slice) -> String { s.text(Self.slice(slice), repaired: &repaired) }
        let target = raw.target.end > raw.target.start ? raw.target : nil
        // The page URL and the base: in the common case (no Head.Base, a page URL that `fastHref` takes as it is)
        // from its bytes alone, in C; a parsed `WebURL` only when a link needs the full parser.
        let page: String
        var prepared: WebURL.Base?
        var cBase = winnow_url_base()
        var parsedBase: WebURL??
        let pageLength =
            if fastPaths, raw.base.end <= raw.base.start, let target {
                winnow_wat_page_url(s.p, target, pageScratch.room(target.end - target.start + 9), &cBase)
            } else {
                -1
            }
        if pageLength >= 0 {
            page = String(decoding: UnsafeBufferPointer(start: pageScratch.pointer, count: pageLength), as: UTF8.self)
        } else {
            let pageText = target.map(text) ?? targetURI() ?? ""
            let pageInput = WATExtractor.stripAngles(TextCleaner.decodeEntities(pageText))
            let pageURL = WebURL.fastParse(pageInput) ?? (try? WebURL.parse(pageInput))
            var baseURL = pageURL
            if raw.base.end > raw.base.start,
                let b = try? WebURL.parse(TextCleaner.decodeEntities(text(raw.base)), base: pageURL)
            {
                baseURL = b
            }
            parsedBase = .some(baseURL)
            prepared = baseURL.map(WebURL.Base.init)
            page = pageURL?.href ?? WATExtractor.stripAngles(pageText)
        }
        func baseURL() -> WebURL? {
            if let b = parsedBase { return b }
            let b = WebURL.fastParse(page)
            parsedBase = .some(b)
            return b
        }
        var signals: [String] = []
        // Only the metas and headers that can carry an opt-out become strings.
        // Every robots value that is a signal starts with "no": a robots meta or X-Robots-Tag without those two
        // letters (most say "index, follow") has nothing to read.
        func signalMeta(_ n: winnow_slice, _ content: winnow_slice) -> Bool {
            let n = Self.slice(n)
            if s.equalsLower(n, "robots") || s.equalsLower(n, "ccbot") || s.equalsLower(n, "winnowbot") {
                return !fastPaths || s.mayHoldNo(Self.slice(content))
            }
            return s.equalsLower(n, "tdm-reservation") || s.equalsLower(n, "tdm-policy")
        }
        func signalHeader(_ n: winnow_slice, _ value: winnow_slice) -> Bool {
            let n = Self.slice(n)
            if s.equalsLower(n, "x-robots-tag") { return !fastPaths || s.mayHoldNo(Self.slice(value)) }
            return s.equalsLower(n, "tdm-reservation") || s.equalsLower(n, "tdm-policy")
        }
        for m in UnsafeBufferPointer(start: raw.metas, count: raw.metas_count) {
            if m.name.end > m.name.start && signalMeta(m.name, m.content) {
                PageSignals.meta(name: text(m.name), content: text(m.content), into: &signals)
            }
            if m.http_equiv.end > m.http_equiv.start && signalHeader(m.http_equiv, m.content) {
                PageSignals.header(name: text(m.http_equiv), value: text(m.content), into: &signals)
            }
        }
        for h in UnsafeBufferPointer(start: raw.headers, count: raw.headers_count) where signalHeader(h.name, h.value) {
            PageSignals.header(name: text(h.name), value: text(h.value), into: &signals)
        }
        let recordID = raw.record_id.end > raw.record_id.start ? text(raw.record_id) : nil
        let date = raw.date.end > raw.date.start ? text(raw.date) : nil
        let provenance = Provenance(inputFile: inputFile, recordOffset: offset, recordID: recordID, pageDate: date)
        // One set of page fields for all the page's candidates.
        let shared = Candidate.Page(pageURL: page, provenance: provenance, optOutSignals: signals)
        let links = UnsafeBufferPointer(start: raw.links, count: raw.links_count)
        func fast(_ base: UnsafePointer<winnow_url_base>?) {
            for (k, var link) in links.enumerated() {
                let out = scratch.room(winnow_wat_link_room(&link, base))
                var urlLength = 0
                var captionLength = 0
                // The common case in C; what it declines (entities, lazy loading, URLs for the full parser, UTF-8
                // to repair) takes the path below.
                let rc =
                    fastPaths
                    ? winnow_wat_link_fast(s.p, &link, base, titleFallback ? 1 : 0, out, &urlLength, &captionLength)
                    : Int32(WINNOW_WAT_LINK_FULL)
                if rc == WINNOW_WAT_LINK_DATA {
                    counters.add("url_data")
                    fastLinks &+= 1
                } else if rc == WINNOW_WAT_LINK_OK {
                    // The URL and caption are contiguous in `out`: LAION's hash reads them where they are. The
                    // candidate is made in the call (its attribute is "src" already), so that it is moved, not copied.
                    emit(
                        Candidate(
                            url: String(decoding: UnsafeBufferPointer(start: out, count: urlLength), as: UTF8.self),
                            caption: String(
                                decoding: UnsafeBufferPointer(start: out + urlLength, count: captionLength),
                                as: UTF8.self),
                            page: shared,
                            hash64: Murmur3.hash64(UnsafeRawBufferPointer(start: out, count: urlLength + captionLength))
                        ))
                    fastLinks &+= 1
                } else {
                    slow(links[k], base)
                }
            }
        }
        func slow(_ link: winnow_wat_link, _ base: UnsafePointer<winnow_url_base>?) {
            guard link.has_url != 0 || link.lazy_kind != 0 else {
                counters.add("link_without_url")
                return
            }
            repaired = false
            var raw = link.has_url != 0 ? text(link.url) : ""
            var attribute = "src"
            // Lazy loading: the real image is in data-src (or a srcset) when src is missing or a placeholder.
            if link.lazy_kind != 0, LazyImage.isPlaceholder(raw) {
                let lazyName = String(cString: winnow_wat_lazy_name(link.lazy_kind))
                let v = text(link.lazy)
                raw = lazyName.hasSuffix("srcset") ? (LazyImage.largest(srcset: v) ?? "") : v
                attribute = lazyName
            }
            if repaired {
                counters.add("url_invalid_utf8")
                return
            }
            let href: String
            let decoded = TextCleaner.decodeEntities(raw)
            if let fast = WebURL.fastHref(decoded, cBase: base) {
                href = fast
            } else {
                do {
                    href = try WebURL.parse(decoded, base: baseURL()).href
                } catch {
                    counters.add(raw.lowercased().hasPrefix("data:") ? "url_data" : "url_\(error.rawValue)")
                    return
                }
            }
            var caption = TextCleaner.clean(text(link.alt))
            if caption.isEmpty && titleFallback { caption = TextCleaner.clean(text(link.title)) }
            if repaired { counters.add("caption_utf8_repaired") }
            var c = Candidate(url: href, caption: caption, page: shared)
            c.urlAttribute = attribute
            emit(c)
        }
        if pageLength >= 0 {
            fast(&cBase)
        } else if let prepared {
            prepared.withC { fast($0) }
        } else {
            fast(nil)
        }
    }
}

/// Bytes for C to write into, grown to the room asked for (what was in them is not kept). Not thread-safe.
struct ScratchBytes {
    private(set) var pointer: UnsafeMutablePointer<UInt8>
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        pointer = .allocate(capacity: capacity)
    }

    /// At least `n` bytes.
    mutating func room(_ n: Int) -> UnsafeMutablePointer<UInt8> {
        if n > capacity {
            pointer.deallocate()
            capacity = max(n, 2 * capacity)
            pointer = .allocate(capacity: capacity)
        }
        return pointer
    }

    func deallocate() { pointer.deallocate() }
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
