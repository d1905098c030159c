/// What an image file says about itself outside its pixels: the EXIF orientation, an IPTC `plus:DataMining` value in
/// its XMP (the rights holder's word on data mining and AI/ML training), and whether it carries a C2PA manifest.
/// Read by walking the container's segments, chunks or boxes (JPEG APP1/APP11, PNG eXIf/iTXt/caBX, WebP
/// EXIF/XMP/C2PA, AVIF irot/imir/XMP/C2PA uuid, JPEG XL orientation/xml /jumb) without decoding anything; a
/// malformed container ends the walk with what was found so far.
public struct ImageMetadata: Sendable, Equatable {
    /// EXIF Orientation, 1 (as stored) to 8.
    public var orientation = 1
    /// The `plus:DataMining` value, e.g. `http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING`.
    public var dataMining: String?
    /// A C2PA manifest store is present (JPEG APP11 JUMBF, PNG `caBX`, WebP `C2PA`).
    public var hasC2PA = false
    /// The training-and-data-mining assertion of the store's active manifest, when it has one (JPEG, PNG, WebP
    /// and JPEG XL stores are read; AVIF's only detected).
    public var c2paTraining: C2PATrainingMining?
    /// Why a C2PA manifest store that is present could not be read: it then states no preference.
    public var c2paUnreadable: String?
    /// A manifest store was read (so a later store, or a damaged one, is not looked at).
    private var c2paStoreRead = false

    /// Creates metadata.
    public init(orientation: Int = 1, dataMining: String? = nil, hasC2PA: Bool = false) {
        self.orientation = orientation
        self.dataMining = dataMining
        self.hasC2PA = hasC2PA
    }

    /// Whether the DataMining value keeps the image out of AI/ML training. Every value of the PLUS vocabulary that
    /// starts with `DMI-PROHIBITED` does: prohibited outright, for AI/ML training, for generative AI/ML training,
    /// except for search engine indexing, or "see constraints/rights expression" (read as a prohibition, since no
    /// machine can tell what those allow). `DMI-UNSPECIFIED` and `DMI-ALLOWED` do not.
    public var dataMiningProhibited: Bool { dataMining?.uppercased().contains("DMI-PROHIBITED") == true }

    /// The C2PA training-mining assertion in a line (`LABEL: entry=use, ...`), or why the store is unreadable.
    public var c2paSummary: String? {
        if let t = c2paTraining {
            return t.label + ": " + t.entries.map { "\($0.name)=\($0.use)" }.joined(separator: ", ")
        }
        return c2paUnreadable.map { "unreadable: " + $0 }
    }

    /// Scans `bytes` of the given format.
    public static func scan(_ bytes: [UInt8], format: ImageFormat) -> ImageMetadata {
        var m = ImageMetadata()
        bytes.withUnsafeBufferPointer { b in
            switch format {
            case .jpeg:
                var jumbf = JPEGJUMBFAssembler()
                m.scanJPEG(b, &jumbf)
                // Several JUMBF boxes may ride in APP11 (JPEG 360, JPEG Trust...): the manifest store is labelled c2pa.
                var stores = 0
                for box in jumbf.boxes() where box.withUnsafeBufferPointer({ ImageMetadata.isC2PAStore($0) }) {
                    stores += 1
                    box.withUnsafeBufferPointer { m.readC2PA(store: $0) }
                }
                if m.hasC2PA && stores == 0 && m.c2paUnreadable == nil {
                    m.c2paUnreadable =
                        "its APP11 segments do not make a whole C2PA manifest store (a packet missing or repeated)"
                }
            case .png: m.scanPNG(b)
            case .webp: m.scanWebP(b)
            case .gif: break
            case .avif: m.scanAVIF(bytes, b)
            case .jxl: m.scanJXL(bytes, b)
            }
        }
        return m
    }

    /// AVIF: orientation from `irot`/`imir` and the XMP item, both through libavif's parser (Exif orientation is
    /// not read: HEIF displays by the properties alone); C2PA from its top-level `uuid` box.
    private mutating func scanAVIF(_ bytes: [UInt8], _ b: UnsafeBufferPointer<UInt8>) {
        if let header = try? Codec.avifHeader(bytes) {
            orientation = header.orientation
            header.xmp.withUnsafeBufferPointer { readXMP($0) }
        }
        ImageMetadata.walkBoxes(b) { type, data in
            if type == "uuid" && data.starts(with: ImageMetadata.c2paUUID) { hasC2PA = true }
        }
    }

    /// JPEG XL: orientation from the codestream header (the authority; an Exif box is not read); XMP from an
    /// `xml ` box and C2PA from a `jumb` box labelled c2pa, also when either is brotli-compressed in a `brob` box
    /// (up to 4 MiB decompressed).
    private mutating func scanJXL(_ bytes: [UInt8], _ b: UnsafeBufferPointer<UInt8>) {
        if let header = try? Codec.jxlHeader(bytes) { orientation = header.orientation }
        guard b.count >= 12, b[0] == 0 else { return }  // a bare codestream has no boxes
        ImageMetadata.walkBoxes(b) { type, data in
            if type == "brob", let (inner, payload) = Codec.brotliBox(data), inner == "xml " || inner == "jumb" {
                payload.withUnsafeBufferPointer { readJXLBox(inner, $0) }
            } else {
                readJXLBox(type, data)
            }
        }
    }

    private mutating func readJXLBox(_ type: String, _ data: UnsafeBufferPointer<UInt8>) {
        if type == "xml " { readXMP(data) }
        if type == "jumb" && ImageMetadata.contains(data, Array("c2pa".utf8)) {
            hasC2PA = true
            record { () throws(C2PAError) in try C2PATrainingMining.read(storeContents: data) }
        }
    }

    /// Reads the training-mining assertion of a manifest store (a whole `jumb` box).
    private mutating func readC2PA(store: UnsafeBufferPointer<UInt8>) {
        hasC2PA = true
        record { () throws(C2PAError) in try C2PATrainingMining.read(store: store) }
    }

    /// The first store that reads counts; one that does not is recorded as unreadable only while no store has
    /// read (a box that merely mentions "c2pa" never hides a real store after it).
    private mutating func record(_ read: () throws(C2PAError) -> C2PATrainingMining?) {
        guard !c2paStoreRead else { return }
        do throws(C2PAError) {
            c2paTraining = try read()
            c2paStoreRead = true
            c2paUnreadable = nil
        } catch {
            if c2paUnreadable == nil { c2paUnreadable = error.message }
        }
    }

    /// Whether a whole `jumb` box's description box is labelled `c2pa` (a C2PA manifest store).
    static func isC2PAStore(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        // jumb header (8, or 16 with an XLBox), jumd header (8), UUID (16), toggles (1), then the label.
        guard b.count >= 16 else { return false }
        let h = b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 1 ? 16 : 8
        return b.count >= h + 30 && b[4..<8].elementsEqual("jumb".utf8)
            && b[(h + 4)..<(h + 8)].elementsEqual("jumd".utf8)
            && b[h + 24] & 0x02 != 0 && b[(h + 25)..<(h + 30)].elementsEqual("c2pa\0".utf8)
    }

    /// The C2PA manifest store's `uuid` box type (d8fec3d6-1b0e-483c-9297-5828877ec481), for ISO BMFF files.
    static let c2paUUID: [UInt8] = [
        0xd8, 0xfe, 0xc3, 0xd6, 0x1b, 0x0e, 0x48, 0x3c, 0x92, 0x97, 0x58, 0x28, 0x87, 0x7e, 0xc4, 0x81,
    ]

    /// Calls `body` with each top-level ISO BMFF box's type and payload, until the boxes end or one overruns.
    static func walkBoxes(
        _ b: UnsafeBufferPointer<UInt8>, _ body: (String, UnsafeBufferPointer<UInt8>) -> Void
    ) {
        var i = 0
        while i + 8 <= b.count {
            var size = Int(be32(b, i))
            var header = 8
            if size == 1 {  // a 64-bit size follows the type
                guard i + 16 <= b.count else { return }
                let high = Int(be32(b, i + 8))
                guard high == 0 else { return }  // over 4 GiB: past any image Winnow fetches
                size = Int(be32(b, i + 12))
                header = 16
            } else if size == 0 {  // to the end of the file
                size = b.count - i
            }
            guard size >= header, i + size <= b.count else { return }
            body(
                String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self),
                UnsafeBufferPointer(rebasing: b[(i + header)..<(i + size)]))
            i += size
        }
    }

    private mutating func scanJPEG(_ b: UnsafeBufferPointer<UInt8>, _ jumbf: inout JPEGJUMBFAssembler) {
        var i = 2
        while i + 4 <= b.count {
            guard b[i] == 0xff else { return }
            let marker = b[i + 1]
            if marker == 0xff {  // fill byte
                i += 1
                continue
            }
            if marker == 0x01 || (0xd0...0xd8).contains(marker) {
                i += 2
                continue
            }
            if marker == 0xda || marker == 0xd9 { return }  // scan data or end: no more metadata segments before it
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= b.count else { return }
            let segment = UnsafeBufferPointer(rebasing: b[(i + 4)..<(i + 2 + length)])
            if marker == 0xe1 {
                if segment.starts(with: Array("Exif\0\0".utf8)) {
                    readOrientation(UnsafeBufferPointer(rebasing: segment[6...]))
                } else if segment.starts(with: Array("http://ns.adobe.com/xap/1.0/\0".utf8))
                    || segment.starts(with: Array("http://ns.adobe.com/xmp/extension/\0".utf8))
                {
                    readXMP(segment)
                }
            } else if marker == 0xeb {
                jumbf.add(segment)
                if ImageMetadata.contains(segment, Array("c2pa".utf8)) { hasC2PA = true }
            }
            i += 2 + length
        }
    }

    private mutating func scanPNG(_ b: UnsafeBufferPointer<UInt8>) {
        var i = 8
        while i + 8 <= b.count {
            let length = Int(ImageMetadata.be32(b, i))
            let type = String(decoding: b[(i + 4)..<(i + 8)], as: UTF8.self)
            guard length >= 0, i + 12 + length <= b.count else { return }
            let data = UnsafeBufferPointer(rebasing: b[(i + 8)..<(i + 8 + length)])
            switch type {
            case "eXIf": readOrientation(data)
            case "iTXt":
                // keyword \0 compression-flag compression-method language \0 translated-keyword \0 text
                if data.starts(with: Array("XML:com.adobe.xmp\0".utf8)), data.count > 19, data[18] == 0 {
                    readXMP(data)
                }
            case "caBX": readC2PA(store: data)
            case "IEND": return
            default: break
            }
            i += 12 + length
        }
    }

    private mutating func scanWebP(_ b: UnsafeBufferPointer<UInt8>) {
        var i = 12
        while i + 8 <= b.count {
            let type = String(decoding: b[i..<(i + 4)], as: UTF8.self)
            let length = Int(ImageMetadata.le32(b, i + 4))
            guard i + 8 + length <= b.count else { return }
            let data = UnsafeBufferPointer(rebasing: b[(i + 8)..<(i + 8 + length)])
            switch type {
            case "EXIF":
                // The TIFF header, though some writers put JPEG's "Exif\0\0" before it.
                let tiff = data.starts(with: Array("Exif\0\0".utf8)) ? UnsafeBufferPointer(rebasing: data[6...]) : data
                readOrientation(tiff)
            case "XMP ": readXMP(data)
            case "C2PA": readC2PA(store: data)
            default: break
            }
            i += 8 + length + (length & 1)
        }
    }

    /// Orientation (tag 0x0112) from IFD0 of a TIFF structure.
    private mutating func readOrientation(_ t: UnsafeBufferPointer<UInt8>) {
        guard t.count >= 8 else { return }
        let little: Bool
        if t[0] == 0x49 && t[1] == 0x49 {
            little = true
        } else if t[0] == 0x4d && t[1] == 0x4d {
            little = false
        } else {
            return
        }
        func u16(_ o: Int) -> Int { little ? Int(t[o]) | Int(t[o + 1]) << 8 : Int(t[o]) << 8 | Int(t[o + 1]) }
        func u32(_ o: Int) -> Int { little ? u16(o) | u16(o + 2) << 16 : u16(o) << 16 | u16(o + 2) }
        let ifd = u32(4)
        guard ifd >= 8, ifd + 2 <= t.count else { return }
        let entries = u16(ifd)
        for k in 0..<entries {
            let e = ifd + 2 + 12 * k
            guard e + 12 <= t.count else { return }
            if u16(e) == 0x0112 && u16(e + 2) == 3 {
                let v = u16(e + 8)
                if (1...8).contains(v) { orientation = v }
                return
            }
        }
    }

    /// The DataMining value from an XMP packet: an attribute (`plus:DataMining="..."`), an element's text, or an
    /// `rdf:resource`; whatever the namespace prefix.
    private mutating func readXMP(_ x: UnsafeBufferPointer<UInt8>) {
        guard let at = ImageMetadata.find(x, Array("DataMining".utf8)) else { return }
        let window = x[at..<min(x.count, at + 400)]
        guard let dmi = ImageMetadata.find(UnsafeBufferPointer(rebasing: window), Array("DMI-".utf8)) else { return }
        var end = window.startIndex + dmi
        let valueStart = end
        while end < window.endIndex,
            window[end] == 0x2d || (0x30...0x39).contains(window[end])
                || (0x41...0x5a).contains(window[end]) || (0x61...0x7a).contains(window[end])
        {
            end += 1
        }
        // Keep the namespace URI in front when the value is written in full.
        let prefix = Array("http://ns.useplus.org/ldf/vocab/".utf8)
        var start = valueStart
        if start - prefix.count >= window.startIndex, Array(window[(start - prefix.count)..<start]) == prefix {
            start -= prefix.count
        }
        dataMining = String(decoding: window[start..<end], as: UTF8.self)
    }

    static func find(_ hay: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Int? {
        guard !needle.isEmpty, hay.count >= needle.count else { return nil }
        var i = 0
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] {
                var k = 1
                while k < needle.count && hay[i + k] == needle[k] { k += 1 }
                if k == needle.count { return i }
            }
            i += 1
        }
        return nil
    }

    static func contains(_ hay: UnsafeBufferPointer<UInt8>, _ needle: [UInt8]) -> Bool { find(hay, needle) != nil }

    static func be32(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32 {
        UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
    }

    static func le32(_ b: UnsafeBufferPointer<UInt8>, _ i: Int) -> UInt32 {
        UInt32(b[i]) | UInt32(b[i + 1]) << 8 | UInt32(b[i + 2]) << 16 | UInt32(b[i + 3]) << 24
    }
}

extension Resizer {
    /// `image` turned as EXIF `orientation` (1-8) says it should be displayed.
    public static func orient(_ image: RGBImage, _ orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation) else { return image }
        let (w, h) = (image.width, image.height)
        let swap = orientation >= 5
        let (ow, oh) = swap ? (h, w) : (w, h)
        var out = [UInt8](repeating: 0, count: w * h * 3)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<oh {
                    for x in 0..<ow {
                        // The source pixel shown at (x, y).
                        let (sx, sy): (Int, Int)
                        switch orientation {
                        case 2: (sx, sy) = (w - 1 - x, y)  // mirrored
                        case 3: (sx, sy) = (w - 1 - x, h - 1 - y)  // rotated 180
                        case 4: (sx, sy) = (x, h - 1 - y)  // mirrored vertically
                        case 5: (sx, sy) = (y, x)  // transposed
                        case 6: (sx, sy) = (y, h - 1 - x)  // rotate 90 clockwise to display
                        case 7: (sx, sy) = (w - 1 - y, h - 1 - x)  // transversed
                        default: (sx, sy) = (w - 1 - y, x)  // 8: rotate 90 counter-clockwise to display
                        }
                        let s = (sy * w + sx) * 3
                        let d = (y * ow + x) * 3
                        dst[d] = src[s]
                        dst[d + 1] = src[s + 1]
                        dst[d + 2] = src[s + 2]
                    }
                }
            }
        }
        return RGBImage(width: ow, height: oh, pixels: out)
    }
}
