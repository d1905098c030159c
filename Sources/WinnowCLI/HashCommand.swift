import Foundation
import WinnowCore
import WinnowImage

enum HashCommand {
    static let command = WinnowCLI.Command(
        name: "hash", summary: "the hashes Winnow records for image files (SHA-256, MD5, SHA-1, PDQ)",
        help: """
            Usage: winnow hash FILE...

            Prints one JSON line per file: its SHA-256, MD5 and SHA-1 (of the bytes, as removal hash lists carry
            them) and, for an image, its PDQ perceptual hash and quality, computed as the image stage computes them
            (decoded, turned upright by its EXIF orientation), and pdq_trimmed, the PDQ inside a uniform border
            when the image has one. A file that is not a decodable image gets the byte
            hashes and an "error"; the exit status is then 1.
            """,
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "hash")
        let files = a.positionals
        if files.isEmpty { throw UsageError("winnow hash: missing FILE...") }
        var failed = 0
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw WinnowError(.io, "\(file): cannot read")
            }
            let bytes = [UInt8](data)
            var o = JSONObject()
            o.add("file", file)
            o.add("bytes", bytes.count)
            o.add("sha256", SHA256.hexDigest(bytes))
            o.add("md5", MD5.hexDigest(bytes))
            o.add("sha1", DigestAlgorithm.sha1.hexDigest(bytes))
            do {
                let format = try Codec.dimensions(bytes).format
                let meta = ImageMetadata.scan(bytes, format: format)
                let image = Resizer.orient(try Codec.decode(bytes), meta.orientation)
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
}
