/// Where a candidate came from: enough to find the record again in the input.
public struct Provenance: Sendable, Codable, Hashable {
    /// The input file (as given on the command line).
    public var inputFile: String
    /// Byte offset of the record in the input file (of its gzip member, for gzipped WARCs).
    public var recordOffset: Int64
    /// `WARC-Record-ID` of the record, when the input is WARC/WAT.
    public var recordID: String?
    /// When the page was fetched (`WARC-Date` of the response), when known.
    public var pageDate: String?

    /// Creates a provenance.
    public init(inputFile: String, recordOffset: Int64, recordID: String? = nil, pageDate: String? = nil) {
        self.inputFile = inputFile
        self.recordOffset = recordOffset
        self.recordID = recordID
        self.pageDate = pageDate
    }

    enum CodingKeys: String, CodingKey {
        case inputFile = "input_file"
        case recordOffset = "record_offset"
        case recordID = "record_id"
        case pageDate = "page_date"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inputFile = try c.decodeIfPresent(String.self, forKey: .inputFile) ?? ""
        recordOffset = try c.decodeIfPresent(Int64.self, forKey: .recordOffset) ?? 0
        recordID = try c.decodeIfPresent(String.self, forKey: .recordID)
        pageDate = try c.decodeIfPresent(String.self, forKey: .pageDate)
    }
}

/// An image link found on a page: the unit every stage works on.
public struct Candidate: Sendable, Codable, Hashable {
    /// LAION-5B's hash of url + caption (see `key`); kept up to date when either changes.
    public private(set) var hash64: UInt64
    /// Absolute image URL.
    public var url: String { didSet { hash64 = Murmur3.hash64(url, caption) } }
    /// Alt text (the caption).
    public var caption: String { didSet { hash64 = Murmur3.hash64(url, caption) } }
    /// What the candidates of one page share, held once for all of them.
    private var page: Page
    /// Where the candidate's record is in its input (its own: the rows of a URL list or a Parquet file share a
    /// page but not an offset).
    private var recordOffset: Int64
    /// The attribute the URL came from: `src`, or a lazy-loading one (`data-src`, `srcset`...).
    public var urlAttribute: String = "src"
    /// Input columns carried to the output (`--save-additional-columns`), by output name (see
    /// `ColumnValue.outputName`); empty unless asked for.
    public var columns: [String: ColumnValue] = [:]

    /// The fields a page's candidates share: one reference to count instead of five, and a smaller value to move
    /// (a reader makes hundreds of thousands of candidates a second). Immutable: a change makes a new one.
    package final class Page: Sendable, Hashable {
        package let pageURL: String
        package let provenance: Provenance
        let optOutSignals: [String]

        /// The shared fields of a page's candidates.
        package init(pageURL: String, provenance: Provenance, optOutSignals: [String]) {
            self.pageURL = pageURL
            self.provenance = provenance
            self.optOutSignals = optOutSignals
        }

        // The record offset is each candidate's own (`Candidate.recordOffset`), not the page's.
        package static func == (a: Page, b: Page) -> Bool {
            a === b
                || (a.pageURL == b.pageURL && a.provenance.inputFile == b.provenance.inputFile
                    && a.provenance.recordID == b.provenance.recordID && a.provenance.pageDate == b.provenance.pageDate
                    && a.optOutSignals == b.optOutSignals)
        }

        package func hash(into hasher: inout Hasher) {
            hasher.combine(pageURL)
            hasher.combine(provenance.inputFile)
            hasher.combine(provenance.recordID)
            hasher.combine(optOutSignals)
        }
    }

    /// URL of the page that links the image.
    public var pageURL: String {
        get { page.pageURL }
        set { page = Page(pageURL: newValue, provenance: page.provenance, optOutSignals: page.optOutSignals) }
    }
    /// Where the link was found.
    public var provenance: Provenance {
        get {
            var p = page.provenance
            p.recordOffset = recordOffset
            return p
        }
        set {
            page = Page(pageURL: page.pageURL, provenance: newValue, optOutSignals: page.optOutSignals)
            recordOffset = newValue.recordOffset
        }
    }
    /// Machine-readable opt-out signals found on the page (e.g. `meta-robots:noai`).
    public var optOutSignals: [String] {
        get { page.optOutSignals }
        set { page = Page(pageURL: page.pageURL, provenance: page.provenance, optOutSignals: newValue) }
    }

    /// Creates a candidate whose key is derived from `url` and `caption`.
    public init(url: String, caption: String, pageURL: String, provenance: Provenance, optOutSignals: [String] = []) {
        self.hash64 = Murmur3.hash64(url, caption)
        self.url = url
        self.caption = caption
        self.page = Page(pageURL: pageURL, provenance: provenance, optOutSignals: optOutSignals)
        self.recordOffset = provenance.recordOffset
    }

    /// Creates a candidate of a page whose shared fields the caller holds, and whose `hash64` it may have computed
    /// already: `Murmur3.hash64` of the UTF-8 of `url` followed by that of `caption` (a reader that holds them side
    /// by side in one buffer saves a copy).
    package init(url: String, caption: String, page: Page, hash64: UInt64? = nil) {
        self.hash64 = hash64 ?? Murmur3.hash64(url, caption)
        self.url = url
        self.caption = caption
        self.page = page
        self.recordOffset = page.provenance.recordOffset
    }

    /// Creates a candidate of a shared page with a record offset of its own (a row of a URL list or Parquet file,
    /// whose rows share their file's page).
    package init(url: String, caption: String, page: Page, recordOffset: Int64) {
        self.hash64 = Murmur3.hash64(url, caption)
        self.url = url
        self.caption = caption
        self.page = page
        self.recordOffset = recordOffset
    }

    /// The stable identifier, the webdataset `__key__`: 16 hex digits of LAION-5B's `hash` (the first 64 bits of
    /// MurmurHash3_x64_128 of url + caption), so that keys join with LAION's metadata.
    public var key: String { Candidate.hex16(hash64) }

    /// The stable key of a (url, caption) pair (see `key`).
    public static func key(url: String, caption: String) -> String { hex16(Murmur3.hash64(url, caption)) }

    static func hex16(_ h: UInt64) -> String {
        let digits: StaticString = "0123456789abcdef"
        return String(unsafeUninitializedCapacity: 16) { out in
            for i in 0..<16 { out[i] = digits.utf8Start[Int((h >> (60 - 4 * UInt64(i))) & 15)] }
            return 16
        }
    }

    /// LAION-5B's `hash` column: `mmh3.hash64(url + text)[0]`, a signed 64-bit integer.
    public static func laionHash(url: String, caption: String) -> Int64 {
        Int64(bitPattern: Murmur3.hash64(url, caption))
    }

    /// LAION-5B's `hash` of this candidate.
    public var laionHash: Int64 { Int64(bitPattern: hash64) }

    /// cc2dataset's `uid`: md5(alt + url), hex. Equal to cc2dataset's wherever its alt and url needed no cleaning.
    public var cc2datasetUID: String { MD5.hexDigest(Array((caption + url).utf8)) }

    enum CodingKeys: String, CodingKey {
        case key, url, caption
        case pageURL = "page_url"
        case optOutSignals = "opt_out_signals"
        case urlAttribute = "url_attribute"
        case laionHash = "laion_hash"
        case uid
        case columns
    }

    // The JSON form is flat (provenance fields beside the link's), as JSON Lines readers expect.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        url = try c.decode(String.self, forKey: .url)
        caption = try c.decodeIfPresent(String.self, forKey: .caption) ?? ""
        // The key is always derived from url and caption, whatever the file says.
        hash64 = Murmur3.hash64(url, caption)
        let provenance = try Provenance(from: decoder)
        page = Page(
            pageURL: try c.decodeIfPresent(String.self, forKey: .pageURL) ?? "", provenance: provenance,
            optOutSignals: try c.decodeIfPresent([String].self, forKey: .optOutSignals) ?? [])
        recordOffset = provenance.recordOffset
        urlAttribute = try c.decodeIfPresent(String.self, forKey: .urlAttribute) ?? "src"
        columns = try c.decodeIfPresent([String: ColumnValue].self, forKey: .columns) ?? [:]
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(key, forKey: .key)
        try c.encode(url, forKey: .url)
        try c.encode(caption, forKey: .caption)
        try c.encode(pageURL, forKey: .pageURL)
        try c.encode(optOutSignals, forKey: .optOutSignals)
        try c.encode(urlAttribute, forKey: .urlAttribute)
        try c.encode(laionHash, forKey: .laionHash)
        try c.encode(cc2datasetUID, forKey: .uid)
        if !columns.isEmpty { try c.encode(columns, forKey: .columns) }
        try provenance.encode(to: encoder)
    }
}

/// Lower-case hexadecimal text of bytes.
public func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    for b in bytes {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
}

extension Candidate {
    /// The candidate as one JSON object (the same fields as its `Encodable` form, keys sorted), written directly:
    /// `winnow parse` writes millions of these.
    public func jsonLine(extra: [(String, String)] = []) -> String {
        String(decoding: jsonLineUTF8(extra: extra), as: UTF8.self)
    }

    /// `jsonLine` as UTF-8 bytes.
    public func jsonLineUTF8(extra: [(String, String)] = []) -> [UInt8] {
        var out: [UInt8] = []
        appendJSONLine(to: &out, extra: extra)
        return out
    }

    /// Appends `jsonLine` to `out`, written in key order without intermediate strings (`winnow parse` writes
    /// millions of lines; this is most of its time).
    public func appendJSONLine(to out: inout [UInt8], extra: [(String, String)] = []) {
        var w = SortedJSONWriter(out: out, extra: extra)
        out = []
        w.key("caption")
        JSONText.appendQuoted(caption, to: &w.out)
        if !columns.isEmpty {
            w.key("columns")
            w.out.append(contentsOf: ColumnValue.jsonObject(columns).utf8)
        }
        w.key("input_file")
        JSONText.appendQuoted(page.provenance.inputFile, to: &w.out)
        w.key("key")
        w.out.append(0x22)
        JSONText.appendHex(hash64, to: &w.out)
        w.out.append(0x22)
        w.key("laion_hash")
        JSONText.appendInt(Int64(bitPattern: hash64), to: &w.out)
        w.key("opt_out_signals")
        w.out.append(0x5b)
        for (i, v) in page.optOutSignals.enumerated() {
            if i > 0 { w.out.append(0x2c) }
            JSONText.appendQuoted(v, to: &w.out)
        }
        w.out.append(0x5d)
        if let d = page.provenance.pageDate {
            w.key("page_date")
            JSONText.appendQuoted(d, to: &w.out)
        }
        w.key("page_url")
        JSONText.appendQuoted(page.pageURL, to: &w.out)
        if let r = page.provenance.recordID {
            w.key("record_id")
            JSONText.appendQuoted(r, to: &w.out)
        }
        w.key("record_offset")
        JSONText.appendInt(recordOffset, to: &w.out)
        w.key("uid")
        w.out.append(0x22)
        appendUID(to: &w.out)
        w.out.append(0x22)
        w.key("url")
        JSONText.appendQuoted(url, to: &w.out)
        w.key("url_attribute")
        JSONText.appendQuoted(urlAttribute, to: &w.out)
        out = w.finish()
    }

    /// Appends `cc2datasetUID` (md5 of caption + url, hex) without building the strings.
    private func appendUID(to out: inout [UInt8]) {
        var caption = caption
        var url = url
        caption.withUTF8 { c in
            url.withUTF8 { u in
                withUnsafeTemporaryAllocation(of: UInt8.self, capacity: c.count + u.count) { joined in
                    _ = joined.initialize(fromContentsOf: c)
                    _ = joined[c.count...].initialize(fromContentsOf: u)
                    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 16) { digest in
                        MD5.digest(UnsafeRawBufferPointer(joined), into: digest)
                        for b in digest { JSONText.appendHexByte(b, to: &out) }
                    }
                }
            }
        }
    }
}

/// Writes the members of a JSON object whose own keys come in sorted order, merging in `extra` members at their
/// sorted places, so that the object's keys are sorted as `JSONObject` sorts them.
struct SortedJSONWriter {
    var out: [UInt8]
    private var extra: [(String, String)]
    private var next = 0
    private var first = true

    init(out: [UInt8], extra: [(String, String)]) {
        self.out = out
        self.out.append(0x7b)
        self.extra = extra.count > 1 ? extra.sorted { $0.0 < $1.0 } : extra
    }

    /// Starts the member `name` (after any extra members that sort before it).
    mutating func key(_ name: StaticString) {
        if next < extra.count {
            let n = String(
                decoding: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount), as: UTF8.self)
            while next < extra.count && extra[next].0 < n { writeExtra() }
        }
        separator()
        out.append(0x22)
        out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
        out.append(0x22)
        out.append(0x3a)
    }

    private mutating func separator() {
        if !first { out.append(0x2c) }
        first = false
    }

    private mutating func writeExtra() {
        separator()
        JSONText.appendQuoted(extra[next].0, to: &out)
        out.append(0x3a)
        JSONText.appendQuoted(extra[next].1, to: &out)
        next += 1
    }

    mutating func finish() -> [UInt8] {
        while next < extra.count { writeExtra() }
        out.append(0x7d)
        return out
    }
}

/// JSON string quoting (RFC 8259): quotes, backslashes and control characters escaped; the rest kept as UTF-8.
public enum JSONText {
    /// `s` as a JSON string literal.
    public static func quote(_ s: String) -> String {
        var out: [UInt8] = []
        appendQuoted(s, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `s` as a JSON string literal to `out`.
    public static func appendQuoted(_ s: String, to out: inout [UInt8]) {
        var s = s
        out.append(0x22)
        s.withUTF8 { b in
            var clean = true
            for c in b where c < 0x20 || c == 0x22 || c == 0x5c {
                clean = false
                break
            }
            if clean {
                out.append(contentsOf: b)
                return
            }
            let hexDigits: StaticString = "0123456789abcdef"
            for c in b {
                switch c {
                case 0x22: out += [0x5c, 0x22]
                case 0x5c: out += [0x5c, 0x5c]
                case 0x0a: out += [0x5c, 0x6e]
                case 0x0d: out += [0x5c, 0x72]
                case 0x09: out += [0x5c, 0x74]
                case 0..<0x20:
                    out += [0x5c, 0x75, 0x30, 0x30, hexDigits.utf8Start[Int(c >> 4)], hexDigits.utf8Start[Int(c & 15)]]
                default: out.append(c)
                }
            }
        }
        out.append(0x22)
    }

    /// Appends the decimal text of `v`.
    public static func appendInt(_ v: Int64, to out: inout [UInt8]) {
        if v < 0 { out.append(0x2d) }
        var m = v.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var n = 0
            repeat {
                digits[19 - n] = UInt8(truncatingIfNeeded: m % 10) + 0x30
                m /= 10
                n += 1
            } while m > 0
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digits[(20 - n)...]))
        }
    }

    /// Appends the 16 lower-case hex digits of `v`.
    static func appendHex(_ v: UInt64, to out: inout [UInt8]) {
        for i in stride(from: 56, through: 0, by: -8) {
            appendHexByte(UInt8(truncatingIfNeeded: v >> UInt64(i)), to: &out)
        }
    }

    /// Appends the two lower-case hex digits of `b`.
    static func appendHexByte(_ b: UInt8, to out: inout [UInt8]) {
        let d: StaticString = "0123456789abcdef"
        out.append(d.utf8Start[Int(b >> 4)])
        out.append(d.utf8Start[Int(b & 15)])
    }
}

/// A flat JSON object written by hand (keys sorted on output), for the per-sample lines and `.json` members:
/// several times faster than JSONSerialization, and slashes are not escaped. Values are written as JSON text into
/// one byte buffer as they are added.
public struct JSONObject: Sendable {
    private var values: [UInt8] = []
    private var fields: [(key: String, value: Range<Int>)] = []

    /// An empty object.
    public init() {}

    /// Adds a member whose JSON text `write` appends.
    private mutating func add(_ key: String, _ write: (inout [UInt8]) -> Void) {
        let start = values.count
        write(&values)
        fields.append((key, start..<values.count))
    }

    /// Adds a member whose value is JSON text already.
    public mutating func add(json key: String, _ text: String) { add(key) { $0.append(contentsOf: text.utf8) } }

    /// Adds a string member.
    public mutating func add(_ key: String, _ value: String) { add(key) { JSONText.appendQuoted(value, to: &$0) } }
    /// Adds an integer member.
    public mutating func add(_ key: String, _ value: Int) { add(key) { $0.append(contentsOf: String(value).utf8) } }
    /// Adds a number member (null when not finite).
    public mutating func add(_ key: String, _ value: Double) {
        add(key) { $0.append(contentsOf: (value.isFinite ? String(value) : "null").utf8) }
    }
    /// Adds an integer member.
    public mutating func add(_ key: String, _ value: Int64) { add(key) { $0.append(contentsOf: String(value).utf8) } }
    /// Adds an array of strings.
    public mutating func add(_ key: String, _ values: [String]) {
        add(key) { out in
            out.append(0x5b)
            for (i, v) in values.enumerated() {
                if i > 0 { out.append(0x2c) }
                JSONText.appendQuoted(v, to: &out)
            }
            out.append(0x5d)
        }
    }

    /// The object's UTF-8 text, members sorted by key.
    public func utf8() -> [UInt8] {
        var out: [UInt8] = [0x7b]
        out.reserveCapacity(values.count + 24 * fields.count + 2)
        for (i, f) in fields.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { out.append(0x2c) }
            JSONText.appendQuoted(f.key, to: &out)
            out.append(0x3a)
            out.append(contentsOf: values[f.value])
        }
        out.append(0x7d)
        return out
    }

    /// The object's text, members sorted by key.
    public func text() -> String { String(decoding: utf8(), as: UTF8.self) }
}
