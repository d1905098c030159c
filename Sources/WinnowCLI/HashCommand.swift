import Foundation
import WinnowCore
import WinnowImage

enum HashCommand {
    static let command = WinnowCLI.Command(
        name: "hash", summary: "the hashes Winnow records for image files (SHA-256, MD5, SHA-1, PDQ)",
        about: """
            Usage: winnow hash FILE...

            Prints one JSON line per file: its SHA-256, MD5 and SHA-1 (of the bytes, as removal hash lists carry
            them) and, for an image, its PDQ perceptual hash and quality, computed as the image stage computes them
            (decoded, turned upright by its EXIF orientation), and pdq_trimmed, the PDQ inside a uniform border
            when the image has one. A file that is not a decodable image gets the byte
            hashes and an "error"; the exit status is then 1.
            """,
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "hash", options: command.options)
        let files = a.positionals
        if files.isEmpty { throw UsageError("winnow hash: missing FILE...") }
        var failed = 0
        for file in files {
            let bytes = try readBytes(file)
            var o = JSONObject()
            o.add("file", file)
            o.add("bytes", bytes.count)
            o.add("sha256", SHA256.hexDigest(bytes))
            o.add("md5", MD5.hexDigest(bytes))
            o.add("sha1", DigestAlgorithm.sha1.hexDigest(bytes))
            do {
                let format = try Codec.dimensions(bytes).format
                let image = try upright(bytes)
                let (pdq, mirrored) = PDQ.hashWithMirror(image)
                o.add("format", format.rawValue)
                o.add("width", image.width)
                o.add("height", image.height)
                o.add("pdq", pdq.hex)
                o.add("pdq_quality", pdq.quality)
                o.add("pdq_mirrored", mirrored.hex)
                if let inner = PDQ.borderTrimmed(image) { o.add("pdq_trimmed", PDQ.hash(inner).hex) }
            } catch {
                o.add("error", "\(error)")
                failed += 1
            }
            print(o.text())
        }
        if failed > 0 { throw WinnowError(.image, "\(failed) of \(files.count) files are not decodable images") }
    }

    /// The bytes of `file`, or an error naming it.
    static func readBytes(_ file: String) throws -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw WinnowError(.io, "\(file): cannot read")
        }
        return [UInt8](data)
    }

    /// The image in `bytes` decoded and turned upright by its EXIF orientation, as the image stage sees it.
    static func upright(_ bytes: [UInt8]) throws -> RGBImage {
        let meta = ImageMetadata.scan(bytes, format: try Codec.dimensions(bytes).format)
        return Resizer.orient(try Codec.decode(bytes), meta.orientation)
    }

    /// `upright`, with an error naming `file` when it is not a decodable image.
    static func uprightImage(_ bytes: [UInt8], file: String) throws -> RGBImage {
        do { return try upright(bytes) } catch {
            throw WinnowError(.image, "\(file): not a decodable image (\(error))")
        }
    }

    /// The upright image in `file`.
    static func readImage(_ file: String) throws -> RGBImage { try uprightImage(readBytes(file), file: file) }
}
