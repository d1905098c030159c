import WinnowCore
import WinnowSQLite

/// Counts keyed by byte strings (hosts, reasons, content types...), looked up without making a String per row: a
/// 64-bit FNV-1a hash finds the slot and the stored bytes confirm it (a colliding key goes to a second map).
struct ByteMap<Value: Sendable>: Sendable {
    private var slots: [UInt64: Int] = [:]
    private var collided: [[UInt8]: Int] = [:]
    private(set) var keys: [[UInt8]] = []
    var values: [Value] = []

    /// The slot of `key`, made with `initial` when new.
    mutating func slot(_ key: UnsafeBufferPointer<UInt8>, _ initial: Value) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        if let s = slots[h] {
            if keys[s].elementsEqual(key) { return s }
            let k = Array(key)
            if let s2 = collided[k] { return s2 }
            collided[k] = keys.count
        } else {
            slots[h] = keys.count
        }
        keys.append(Array(key))
        values.append(initial)
        return keys.count - 1
    }

    /// Every key as a String with its value.
    var pairs: [(String, Value)] { zip(keys, values).map { (String(decoding: $0, as: UTF8.self), $1) } }
}

/// The samples table's figures as one scan streams them (`IndexReader.reportFigures`): one per thread, merged.
struct RowScan: Sendable {
    var f = ReportFigures()
    var hosts = ByteMap<ReportFigures.HostCounts>()
    var reasons = ByteMap<Int>()
    var types = ByteMap<ReportFigures.HostCounts>()
    var pageSignals = ByteMap<ReportFigures.HostCounts>()
    var removedBy = ByteMap<Int>()
    /// Rows naming each kept sample as the one they duplicate, by its key (16 hex digits as a number; any other
    /// key by its text), exact/perceptual and semantic.
    var clusters: [UInt64: Int32] = [:], semantic: [UInt64: Int32] = [:]
    var otherClusters: [String: Int] = [:], otherSemantic: [String: Int] = [:]
    var firstPage: [UInt8]?, lastPage: [UInt8]?
    var dataMining = ReportFigures.HostCounts(), c2pa = ReportFigures.HostCounts(),
        training = ReportFigures.HostCounts()

    static let kept = Array("kept".utf8)

    mutating func add(_ r: Statement.Cursor) {
        f.candidates += 1
        let isKept = r.text(1).map { $0.elementsEqual(RowScan.kept) } ?? false
        let original = r.int(3).map(Int.init)
        let stored = isKept ? Int(r.int(4) ?? 0) : 0
        if isKept { f.kept += 1 } else { f.dropped += 1 }
        if let o = original {
            f.fetched += 1
            f.fetchedBytes += o
            if isKept { f.keptOriginalBytes += o }
        }
        f.keptStoredBytes += stored
        let counts = ReportFigures.HostCounts(
            samples: 1, kept: isKept ? 1 : 0, bytes: original ?? 0, keptBytes: stored,
            keptOriginalBytes: isKept ? original ?? 0 : 0)
        if let url = r.text(0) { hosts.values[hosts.slot(RowScan.host(url), .init())] += counts }
        if !isKept, let reason = r.text(2) { reasons.values[reasons.slot(reason, 0)] += 1 }
        if isKept {
            let w = r.int(5).map(Int.init)
            let h = r.int(6).map(Int.init)
            if let w { f.widths[w, default: 0] += 1 }
            if let h { f.heights[h, default: 0] += 1 }
            if let w, let h, w > 0, h > 0 {
                let ratio = Double(w) / Double(h)
                let bin = ReportFigures.aspectEdges.firstIndex { ratio < $0 } ?? ReportFigures.aspectEdges.count
                f.aspect[bin, default: 0] += 1
            }
            f.captionLengths[Int(r.int(7) ?? 0), default: 0] += 1
            // The served type without its parameters; the format read when the server named none.
            let c = ReportFigures.HostCounts(
                samples: 1, kept: 1, bytes: original ?? 0, keptBytes: stored, keptOriginalBytes: original ?? 0)
            if let t = r.text(9).map(RowScan.mediaType), !t.isEmpty {
                types.values[types.slot(t, .init())] += c
            } else {
                let name = Array((r.text(10).map { "format:" + String(decoding: $0, as: UTF8.self) } ?? "unknown").utf8)
                name.withUnsafeBufferPointer { types.values[types.slot($0, .init())] += c }
            }
        }
        if let s = r.double(8), s.isFinite {
            // Cosines lie in [-1, 1]; 1 itself goes in the last bin.
            let bin = Int((min(max(s, -1), 1) + 1) * ReportFigures.similarityBinsPerUnit).clamped(to: 0...99)
            if isKept { f.similarityKept[bin, default: 0] += 1 } else { f.similarityDropped[bin, default: 0] += 1 }
        }
        if let d = r.text(11) { RowScan.count(d, &clusters, &otherClusters) }
        if let d = r.text(12) { RowScan.count(d, &semantic, &otherSemantic) }
        if let s = r.text(13) {
            pageSignals.values[pageSignals.slot(s, .init())] += .init(samples: 1, kept: isKept ? 1 : 0)
        }
        let one = ReportFigures.HostCounts(samples: 1, kept: isKept ? 1 : 0)
        if r.int(14) == 1 { dataMining += one }
        if r.int(15) == 1 { c2pa += one }
        if r.int(16) == 1 { training += one }
        if let by = r.text(17) { removedBy.values[removedBy.slot(by, 0)] += 1 }
        if let d = r.text(18) {
            if firstPage.map({ d.lexicographicallyPrecedes($0) }) ?? true { firstPage = Array(d) }
            if lastPage.map({ $0.lexicographicallyPrecedes(d) }) ?? true { lastPage = Array(d) }
        }
    }

    /// The host of a URL as the index writes it (WHATWG href: scheme://[userinfo@]host[:port]/...), port included,
    /// userinfo left out (`http://www.google.com:80@evil.example/` is evil.example's).
    static func host(_ url: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var i = 0
        while i + 2 < url.count && !(url[i] == 0x3a && url[i + 1] == 0x2f && url[i + 2] == 0x2f) { i += 1 }
        var start = i + 2 < url.count ? i + 3 : 0
        var end = start
        while end < url.count && url[end] != 0x2f && url[end] != 0x3f && url[end] != 0x23 {
            if url[end] == 0x40 { start = end + 1 }
            end += 1
        }
        return UnsafeBufferPointer(rebasing: url[start..<end])
    }

    /// A Content-Type without its parameters, trimmed.
    static func mediaType(_ t: UnsafeBufferPointer<UInt8>) -> UnsafeBufferPointer<UInt8> {
        var end = t.firstIndex(of: 0x3b) ?? t.count
        var start = 0
        while start < end && (t[start] == 0x20 || t[start] == 0x09) { start += 1 }
        while end > start && (t[end - 1] == 0x20 || t[end - 1] == 0x09) { end -= 1 }
        return UnsafeBufferPointer(rebasing: t[start..<end])
    }

    static func count(_ key: UnsafeBufferPointer<UInt8>, _ numeric: inout [UInt64: Int32], _ other: inout [String: Int])
    {
        if key.count == 16, let v = hex64(key) {
            numeric[v, default: 0] += 1
        } else {
            other[String(decoding: key, as: UTF8.self), default: 0] += 1
        }
    }

    static func hex64(_ b: UnsafeBufferPointer<UInt8>) -> UInt64? {
        var v: UInt64 = 0
        for c in b {
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x61...0x66: d = c - 0x61 + 10
            default: return nil
            }
            v = v << 4 | UInt64(d)
        }
        return v
    }

    /// Adds another thread's scan.
    mutating func merge(_ o: RowScan) {
        f = f + o.f
        for (k, v) in zip(o.hosts.keys, o.hosts.values) {
            k.withUnsafeBufferPointer { hosts.values[hosts.slot($0, .init())] += v }
        }
        for (k, v) in zip(o.reasons.keys, o.reasons.values) {
            k.withUnsafeBufferPointer { reasons.values[reasons.slot($0, 0)] += v }
        }
        for (k, v) in zip(o.types.keys, o.types.values) {
            k.withUnsafeBufferPointer { types.values[types.slot($0, .init())] += v }
        }
        for (k, v) in zip(o.pageSignals.keys, o.pageSignals.values) {
            k.withUnsafeBufferPointer { pageSignals.values[pageSignals.slot($0, .init())] += v }
        }
        for (k, v) in zip(o.removedBy.keys, o.removedBy.values) {
            k.withUnsafeBufferPointer { removedBy.values[removedBy.slot($0, 0)] += v }
        }
        clusters.merge(o.clusters, uniquingKeysWith: +)
        semantic.merge(o.semantic, uniquingKeysWith: +)
        otherClusters.merge(o.otherClusters, uniquingKeysWith: +)
        otherSemantic.merge(o.otherSemantic, uniquingKeysWith: +)
        if let p = o.firstPage, firstPage.map({ p.lexicographicallyPrecedes($0) }) ?? true { firstPage = p }
        if let p = o.lastPage, lastPage.map({ $0.lexicographicallyPrecedes(p) }) ?? true { lastPage = p }
        dataMining += o.dataMining
        c2pa += o.c2pa
        training += o.training
    }

    /// Writes what the scan found into `f`.
    func finish(into out: inout ReportFigures) {
        let keep = (out.shards, out.shardBytes, out.inputErrors)
        out = out + f
        (out.shards, out.shardBytes, out.inputErrors) = keep
        for (host, c) in hosts.pairs { out.hosts[IndexReader.withoutPort(host.lowercased()), default: .init()] += c }
        for (reason, n) in reasons.pairs { out.droppedByReason[reason, default: 0] += n }
        for (type, c) in types.pairs { out.contentTypes[type.lowercased(), default: .init()] += c }
        for (signals, c) in pageSignals.pairs {
            for s in signals.split(separator: ",") { out.pageSignals[String(s), default: .init()] += c }
        }
        for (by, n) in removedBy.pairs { out.removedByRequest[by, default: 0] += n }
        for n in clusters.values { out.duplicateClusters[Int(n) + 1, default: 0] += 1 }
        for n in otherClusters.values { out.duplicateClusters[n + 1, default: 0] += 1 }
        for n in semantic.values { out.semanticClusters[Int(n) + 1, default: 0] += 1 }
        for n in otherSemantic.values { out.semanticClusters[n + 1, default: 0] += 1 }
        if let a = firstPage, let b = lastPage {
            // Chosen by bytes (as SQLite's min and max); Strings compare after normalisation, so order them again.
            let (x, y) = (String(decoding: a, as: UTF8.self), String(decoding: b, as: UTF8.self))
            out.pageDates = min(x, y)...max(x, y)
        }
        for (name, c) in [("xmp_data_mining", dataMining), ("c2pa_manifest", c2pa), ("c2pa_training_mining", training)]
        where c.samples > 0 {
            out.imageSignals[name] = c
        }
    }
}

extension ReportFigures.HostCounts {
    static func += (a: inout Self, b: Self) { a = a + b }
}

extension Int {
    func clamped(to r: ClosedRange<Int>) -> Int { Swift.min(Swift.max(self, r.lowerBound), r.upperBound) }
}
