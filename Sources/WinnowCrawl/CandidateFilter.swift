import WinnowCore

/// LAION's candidate filters, each configurable: caption length, URL length, dropped extensions, page opt-outs,
/// and dedup of (url, caption) within the input.
public struct CandidateFilterSettings: Sendable, Equatable {
    /// Minimum caption length in characters (LAION: 5).
    public var minCaptionLength = 5
    /// Whether the caption length is checked on candidates of URL lists (no page) too. Off by default: a URL list
    /// gets img2dataset's behaviour, captions optional; a pipeline that sets `min_caption_length` turns it on.
    public var captionLengthForLists = false
    /// Maximum URL length (LAION: 2,000).
    public var maxURLLength = 2000
    /// URL path extensions dropped (LAION dropped svg and gif).
    public var dropExtensions: Set<String> = ["svg", "gif"]
    /// Drop candidates whose page carries an opt-out signal (noai, noimageai, tdm-reservation...).
    public var honourPageOptOuts = true
    /// Page signals that count as an opt-out.
    public var optOutSignals: Set<String> = [
        "meta-robots:noai", "meta-robots:noimageai", "meta-robots:noindex", "meta-robots:noimageindex",
        "meta-robots:none", "x-robots-tag:noai", "x-robots-tag:noimageai", "x-robots-tag:noindex",
        "x-robots-tag:noimageindex", "x-robots-tag:none", "meta-tdm-reservation:1", "header-tdm-reservation:1",
    ]
    /// Drop repeated (url, caption) pairs.
    public var dedupURLCaption = true

    /// Default (LAION) settings.
    public init() {}
}

/// Applies `CandidateFilterSettings`; remembers the keys it has seen. Not thread-safe.
public final class CandidateFilter {
    /// The settings.
    public let settings: CandidateFilterSettings
    private var seen: Set<UInt64> = []

    /// Creates a filter.
    public init(settings: CandidateFilterSettings) {
        self.settings = settings
    }

    /// The drops `check` makes before the `(url, caption)` key check: a candidate dropped for one of these never had
    /// its key remembered (what a resumed parse and a merge of parts must replay).
    public static let dropsBeforeKeyCheck: Set<String> = Set(
        [ReasonCode.pageOptout, .urlTooLong, .captionTooShort, .extensionDropped].map(\.rawValue))

    /// Counts the `(url, caption)` key `hash64` as seen (a sample of another output, for `--against`).
    public func remember(_ hash64: UInt64) { seen.insert(hash64) }

    /// Why the candidate is dropped, or nil if it passes.
    public func check(_ c: Candidate) -> Reason? {
        if settings.honourPageOptOuts, let s = c.optOutSignals.first(where: { settings.optOutSignals.contains($0) }) {
            return Reason(.pageOptout, s)
        }
        if c.url.utf8.count > settings.maxURLLength { return Reason(.urlTooLong, "\(c.url.utf8.count) characters") }
        // Characters as LAION counted them (Python's len: code points). A code point takes 1 to 4 UTF-8 bytes, so
        // the byte count settles most captions without counting.
        if c.caption.utf8.count / 4 < settings.minCaptionLength
            && (settings.captionLengthForLists || !c.pageURL.isEmpty)
        {
            let length = c.caption.unicodeScalars.count
            if length < settings.minCaptionLength { return Reason(.captionTooShort, "\(length) characters") }
        }
        let ext = URLExtension.of(c.url)
        if !ext.isEmpty && settings.dropExtensions.contains(ext) { return Reason(.extensionDropped, ext) }
        if settings.dedupURLCaption {
            if !seen.insert(c.hash64).inserted { return Reason(.duplicateURLCaption, c.key) }
        }
        return nil
    }
}

/// The lower-cased extension of a URL's path (without query or fragment).
public enum URLExtension {
    /// `"jpg"` for `http://a/b/c.JPG?x=1`; empty when the last path segment has no dot.
    public static func of(_ url: String) -> String {
        var url = url
        return url.withUTF8 { u in
            var end = u.count
            if let q = u.firstIndex(where: { $0 == 0x3f || $0 == 0x23 }) { end = q }
            var i = end - 1
            while i >= 0 && u[i] != 0x2f {
                if u[i] == 0x2e {
                    return String(unsafeUninitializedCapacity: end - i - 1) { out in
                        for k in 0..<(end - i - 1) {
                            let b = u[i + 1 + k]
                            out[k] = b >= 0x41 && b <= 0x5a ? b + 0x20 : b
                        }
                        return end - i - 1
                    }
                }
                i -= 1
            }
            return ""
        }
    }
}
