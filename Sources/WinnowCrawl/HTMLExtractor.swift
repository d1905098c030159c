internal import CZlib
import Foundation
import WinnowCore

/// Extracts candidates from WARC `response` records holding HTML: every `<img>` (src, or its lazy-loading attribute
/// or largest srcset candidate when src is a placeholder), its alt text, `<base href>`, robots and TDM meta tags and
/// the response's opt-out headers. Tolerant of real-world HTML: unquoted attributes, missing end tags, comments,
/// scripts, chunked or gzip-encoded bodies, Latin-1 pages.
struct HTMLExtractor {
    var titleFallback: Bool

    /// Candidates of a `response` record's block (an HTTP response).
    func extract(
        header: (String) -> String?, block: UnsafeRawBufferPointer, offset: Int64, inputFile: String,
        counters: inout ParseCounters, emit: (consuming Candidate) -> Void
    ) throws {
        guard let http = HTTPResponse(block) else {
            throw RecordError(
                code: "bad_http", path: inputFile, offset: offset,
                message: "response record without an HTTP status line and headers")
        }
        let contentType = (http.header("Content-Type") ?? "").lowercased()
        guard contentType.contains("html") || (contentType.isEmpty && http.bodyLooksLikeHTML) else { return }
        guard (200..<300).contains(http.status) else { return }
        var body = http.body
        if (http.header("Transfer-Encoding") ?? "").lowercased().contains("chunked") {
            body = HTTPResponse.dechunk(body)
        }
        let encoding = (http.header("Content-Encoding") ?? "").lowercased()
        if encoding.contains("gzip") || encoding.contains("deflate") {
            guard let inflated = HTTPResponse.inflate(body) else {
                throw RecordError(
                    code: "bad_http", path: inputFile, offset: offset, message: "cannot decode the \(encoding) body")
            }
            body = inflated
        }
        // Decode to UTF-8: the charset of the Content-Type header, else the page's own declaration.
        if let label = Charset.label(contentType: contentType) ?? Charset.prescan(body) {
            if let utf8 = Charset.toUTF8(body, label: label) {
                body = utf8
            } else {
                counters.add("page_charset_unknown")
            }
        }
        var signals: [String] = []
        for (k, v) in http.headers { PageSignals.header(name: k, value: v, into: &signals) }
        let target = WATExtractor.stripAngles(header("WARC-Target-URI") ?? "")
        let pageURL = try? WebURL.parse(target)
        var base = pageURL
        var images: [[String: String]] = []
        var repaired = false
        HTMLTokenizer.scan(body, repaired: &repaired) { tag, attributes in
            switch tag {
            case "base":
                if let href = attributes["href"], base == pageURL,
                    let b = try? WebURL.parse(TextCleaner.decodeEntities(href), base: pageURL)
                {
                    base = b
                }
            case "meta":
                if let name = attributes["name"] {
                    PageSignals.meta(name: name, content: attributes["content"] ?? "", into: &signals)
                }
                if let equiv = attributes["http-equiv"] {
                    PageSignals.header(name: equiv, value: attributes["content"] ?? "", into: &signals)
                }
            case "img":
                images.append(attributes)
            default: break
            }
        }
        if repaired { counters.add("page_utf8_repaired") }
        let provenance = Provenance(
            inputFile: inputFile, recordOffset: offset, recordID: header("WARC-Record-ID"),
            pageDate: header("WARC-Date"))
        let page = pageURL?.href ?? target
        for img in images {
            var raw = img["src"] ?? ""
            var attribute = "src"
            if LazyImage.isPlaceholder(raw) {
                if let (name, v) = ["data-src", "data-lazy-src", "data-original"].lazy.compactMap({ n in
                    img[n].map { (n, $0) }
                }).first {
                    raw = v
                    attribute = name
                } else if let (name, v) = ["data-srcset", "data-lazy-srcset", "srcset"].lazy.compactMap({ n in
                    img[n].map { (n, $0) }
                }).first,
                    let largest = LazyImage.largest(srcset: v)
                {
                    raw = largest
                    attribute = name
                }
            }
            if raw.trimmingWhitespace().isEmpty {
                counters.add("link_without_url")
                continue
            }
            let url: WebURL
            do {
                url = try WebURL.parse(TextCleaner.decodeEntities(raw), base: base)
            } catch {
                counters.add(raw.lowercased().hasPrefix("data:") ? "url_data" : "url_\(error.rawValue)")
                continue
            }
            var caption = TextCleaner.clean(img["alt"] ?? "")
            if caption.isEmpty && titleFallback { caption = TextCleaner.clean(img["title"] ?? "") }
            var c = Candidate(
                url: url.href, caption: caption, pageURL: page, provenance: provenance, optOutSignals: signals)
            c.urlAttribute = attribute
            emit(c)
        }
    }
}

/// The parts of an HTTP response a page's links need.
struct HTTPResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    init?(_ block: UnsafeRawBufferPointer) {
        let b = block.bindMemory(to: UInt8.self)
        guard b.count > 12, b.starts(with: "HTTP/".utf8) else { return nil }
        var i = 0
        var lines: [String] = []
        while i < b.count {
            var end = i
            while end < b.count && b[end] != 0x0a { end += 1 }
            var lineEnd = end
            if lineEnd > i && b[lineEnd - 1] == 0x0d { lineEnd -= 1 }
            let line = String(decoding: b[i..<lineEnd], as: UTF8.self)
            i = min(b.count, end + 1)
            if line.isEmpty { break }
            lines.append(line)
        }
        guard let statusLine = lines.first else { return nil }
        let parts = statusLine.split(separator: " ")
        status = parts.count > 1 ? Int(parts[1]) ?? 0 : 0
        headers = lines.dropFirst().compactMap { l in
            guard let colon = l.firstIndex(of: ":") else { return nil }
            return (String(l[..<colon]).trimmingWhitespace(), String(l[l.index(after: colon)...]).trimmingWhitespace())
        }
        body = Array(b[i...])
    }

    func header(_ name: String) -> String? { headers.first { asciiEqualFold($0.0, name) }?.1 }

    var bodyLooksLikeHTML: Bool {
        let head = String(decoding: body.prefix(512), as: UTF8.self).lowercased()
        return head.contains("<html") || head.contains("<!doctype html")
    }

    /// Removes HTTP/1.1 chunked framing; returns the input if it is not validly chunked.
    static func dechunk(_ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < body.count {
            var end = i
            while end < body.count && body[end] != 0x0a { end += 1 }
            let sizeText =
                String(decoding: body[i..<end], as: UTF8.self).split(separator: ";").first?.trimmingCharacters(
                    in: .whitespacesAndNewlines) ?? ""
            guard let size = Int(sizeText, radix: 16) else { return out.isEmpty ? body : out }
            if size == 0 { return out }
            let start = end + 1
            guard start + size <= body.count else {
                out.append(contentsOf: body[min(start, body.count)...])
                return out
            }
            out.append(contentsOf: body[start..<(start + size)])
            i = start + size
            while i < body.count && (body[i] == 0x0d || body[i] == 0x0a) && i < start + size + 2 { i += 1 }
        }
        return out
    }

    /// Inflates a gzip, zlib or raw deflate body (at most 64 MB).
    static func inflate(_ body: [UInt8]) -> [UInt8]? {
        for bits: Int32 in [15 + 32, -15] {
            var stream = z_stream()
            guard winnow_inflate_init2(&stream, bits) == Z_OK else { return nil }
            defer { inflateEnd(&stream) }
            var out: [UInt8] = []
            var input = body
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            var rc: Int32 = Z_OK
            input.withUnsafeMutableBufferPointer { inp in
                stream.next_in = inp.baseAddress
                stream.avail_in = UInt32(inp.count)
                repeat {
                    chunk.withUnsafeMutableBufferPointer { o in
                        stream.next_out = o.baseAddress
                        stream.avail_out = UInt32(o.count)
                        rc = CZlib.inflate(&stream, Z_NO_FLUSH)
                        out.append(contentsOf: o[0..<(o.count - Int(stream.avail_out))])
                    }
                } while rc == Z_OK && out.count < 64 << 20 && stream.avail_in > 0
            }
            if rc == Z_STREAM_END || (rc == Z_OK || rc == Z_BUF_ERROR) && !out.isEmpty { return out }
        }
        return nil
    }
}

/// A forgiving HTML tag scanner: reports start tags with their attributes, skipping comments and the raw text of
/// `<script>`, `<style>`, `<textarea>` and `<title>`.
enum HTMLTokenizer {
    static func scan(_ bytes: [UInt8], repaired: inout Bool, _ tag: (String, [String: String]) -> Void) {
        let n = bytes.count
        var i = 0
        func text(_ s: ArraySlice<UInt8>) -> String {
            if let v = String(validating: s, as: UTF8.self) { return v }
            repaired = true
            return String(decoding: s, as: UTF8.self)
        }
        @inline(__always) func lower(_ c: UInt8) -> UInt8 { c >= 0x41 && c <= 0x5a ? c + 0x20 : c }
        @inline(__always) func isSpace(_ c: UInt8) -> Bool {
            c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09 || c == 0x0c
        }
        func skipRawText(until name: [UInt8]) {
            // Find "</name" case-insensitively.
            while i + 1 + name.count < n {
                if bytes[i] == 0x3c && bytes[i + 1] == 0x2f {
                    var match = true
                    for (k, c) in name.enumerated() where lower(bytes[i + 2 + k]) != c {
                        match = false
                        break
                    }
                    if match { return }
                }
                i += 1
            }
            i = n
        }
        while i < n {
            guard let lt = bytes[i...].firstIndex(of: 0x3c) else { return }
            i = lt + 1
            guard i < n else { return }
            if bytes[i] == 0x21 {
                // Comment, doctype or CDATA.
                if i + 2 < n && bytes[i + 1] == 0x2d && bytes[i + 2] == 0x2d {
                    var j = i + 3
                    while j + 2 < n && !(bytes[j] == 0x2d && bytes[j + 1] == 0x2d && bytes[j + 2] == 0x3e) { j += 1 }
                    i = j + 3
                } else {
                    while i < n && bytes[i] != 0x3e { i += 1 }
                }
                continue
            }
            let isLetter = (bytes[i] >= 0x41 && bytes[i] <= 0x5a) || (bytes[i] >= 0x61 && bytes[i] <= 0x7a)
            guard isLetter else { continue }
            var nameBytes: [UInt8] = []
            while i < n && !isSpace(bytes[i]) && bytes[i] != 0x3e && bytes[i] != 0x2f {
                nameBytes.append(lower(bytes[i]))
                i += 1
            }
            let name = String(decoding: nameBytes, as: UTF8.self)
            let wanted = name == "img" || name == "base" || name == "meta"
            var attributes: [String: String] = [:]
            // Attributes until '>'.
            while i < n {
                while i < n && (isSpace(bytes[i]) || bytes[i] == 0x2f) { i += 1 }
                guard i < n, bytes[i] != 0x3e else { break }
                let ks = i
                while i < n && !isSpace(bytes[i]) && bytes[i] != 0x3d && bytes[i] != 0x3e && bytes[i] != 0x2f { i += 1 }
                let key = bytes[ks..<i]
                while i < n && isSpace(bytes[i]) { i += 1 }
                var value: ArraySlice<UInt8> = []
                if i < n && bytes[i] == 0x3d {
                    i += 1
                    while i < n && isSpace(bytes[i]) { i += 1 }
                    if i < n && (bytes[i] == 0x22 || bytes[i] == 0x27) {
                        let q = bytes[i]
                        let vs = i + 1
                        var ve = vs
                        while ve < n && bytes[ve] != q { ve += 1 }
                        value = bytes[vs..<min(ve, n)]
                        i = min(n, ve + 1)
                    } else {
                        let vs = i
                        while i < n && !isSpace(bytes[i]) && bytes[i] != 0x3e { i += 1 }
                        value = bytes[vs..<i]
                    }
                }
                if wanted && !key.isEmpty {
                    let k = String(decoding: key.map(lower), as: UTF8.self)
                    if attributes[k] == nil { attributes[k] = text(value) }
                }
            }
            i += 1
            if wanted { tag(name, attributes) }
            if name == "script" || name == "style" || name == "textarea" || name == "title" {
                skipRawText(until: Array(name.utf8))
            }
        }
    }
}
