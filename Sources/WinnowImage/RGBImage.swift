import WinnowCore

/// An 8-bit RGB image, rows top to bottom, 3 bytes a pixel.
public struct RGBImage: Sendable, Equatable {
    /// Width in pixels.
    public var width: Int
    /// Height in pixels.
    public var height: Int
    /// `width * height * 3` bytes.
    public var pixels: [UInt8]

    /// Creates an image from its pixels.
    public init(width: Int, height: Int, pixels: [UInt8]) {
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// A `width` x `height` image of one colour.
    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8)) {
        self.width = width
        self.height = height
        var p = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            p[3 * i] = fill.0
            p[3 * i + 1] = fill.1
            p[3 * i + 2] = fill.2
        }
        pixels = p
    }
}

/// Image file formats Winnow recognises by their first bytes.
public enum ImageFormat: String, Sendable {
    case jpeg, png, webp, gif, avif, jxl

    /// The format of `bytes` from its magic number, or nil.
    public static func sniff(_ bytes: [UInt8]) -> ImageFormat? {
        if isAVIF(bytes) { return .avif }
        // JPEG XL: a bare codestream (FF 0A), or the ISO BMFF container's signature box ("JXL " and its check bytes).
        if bytes.count >= 2 && bytes[0] == 0xff && bytes[1] == 0x0a { return .jxl }
        if bytes.count >= 12 && bytes[0..<12] == [0, 0, 0, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a] {
            return .jxl
        }
        if bytes.count >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff { return .jpeg }
        if bytes.count >= 8 && bytes[0..<8] == [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] { return .png }
        if bytes.count >= 12 && bytes[0..<4] == [0x52, 0x49, 0x46, 0x46] && bytes[8..<12] == [0x57, 0x45, 0x42, 0x50] {
            return .webp
        }
        if bytes.count >= 6 && bytes[0..<4] == [0x47, 0x49, 0x46, 0x38] { return .gif }
        return nil
    }

    /// The file extension used in shards.
    public var fileExtension: String {
        switch self {
        case .jpeg: return "jpg"
        case .png: return "png"
        case .webp: return "webp"
        case .gif: return "gif"
        case .avif: return "avif"
        case .jxl: return "jxl"
        }
    }

    /// The brands of an ISO BMFF `ftyp` box at the start of `bytes` (major brand first), or empty.
    static func brands(_ bytes: [UInt8]) -> [String] {
        guard bytes.count >= 16, bytes[4..<8] == [0x66, 0x74, 0x79, 0x70] else { return [] }  // "ftyp"
        let size = Int(bytes[0]) << 24 | Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        guard size >= 16, size <= bytes.count, size <= 4096 else { return [] }
        // major brand, minor version, then compatible brands.
        let offsets = [8] + Array(stride(from: 16, to: size - 3, by: 4))
        return offsets.map { String(decoding: bytes[$0..<($0 + 4)], as: UTF8.self) }
    }

    /// An AVIF still image or image sequence: an `ftyp` naming the `avif` or `avis` brand (major or compatible).
    static func isAVIF(_ bytes: [UInt8]) -> Bool {
        brands(bytes).contains { $0 == "avif" || $0 == "avis" }
    }

    /// The brand of a HEIF file that is not AVIF (HEVC `heic`, `mif1`...), for the `unsupported_format` reason.
    static func otherHEIFBrand(_ bytes: [UInt8]) -> String? {
        let b = brands(bytes)
        guard let major = b.first, !isAVIF(bytes) else { return nil }
        return ["heic", "heix", "hevc", "heim", "heis", "mif1", "msf1"].contains(major) ? major : nil
    }
}

/// A decode or encode failure, with a reason code for the sample's outcome.
public struct ImageError: Error, Sendable, CustomStringConvertible {
    /// Reason code (`decode_error`, `unsupported_format`...).
    public var code: ReasonCode
    /// What the codec said.
    public var message: String

    /// Creates an error.
    public init(_ code: ReasonCode, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
}
