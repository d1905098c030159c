import Foundation
import WinnowCore
import WinnowEmbed
import WinnowImage
import WinnowShards

enum EmbedCommand {
    static let command = WinnowCLI.Command(
        name: "embed", summary: "CLIP embeddings of images, texts or the shards of a run, and their similarities",
        about: """
            Usage: winnow embed --model DIR (--image FILE... | --text STRING... | --shards OUT) [--output -|DIR]
                                [--dtype float16|float32] [--batch-size N] [--threads N] [--precision float32|int8]
                   winnow embed --model DIR --compare-dtype int8 (--image FILE... | --images DIR) [--text STRING...]
                                [--min-similarity X]

            --model DIR is a Hugging Face CLIP checkpoint directory (config.json, model.safetensors in F32, F16 or
            BF16, vocab.json, merges.txt, preprocessor_config.json), such as models/sample-web-clip or
            openai/clip-vit-base-patch32 saved with save_pretrained, or an OpenCLIP directory (open_clip_config.json,
            open_clip_model.safetensors, vocab.json, merges.txt). Nothing is downloaded.

            --image and --text (together or alone): unit-length embeddings, and with both the cosine similarity of
            every image with every text. '--output -' (the default) prints one JSON object; '--output DIR' writes
            DIR/images.npy and DIR/texts.npy (rows in argument order) and DIR/embeddings.json (the rest). Images are
            decoded as stored (alpha over white, EXIF orientation not applied, as transformers does); captions are
            tokenized as transformers 5 does.

            --shards OUT: embeds the kept samples of a finished run in OUT (its stored images and captions) and
            writes what the pipeline's embed stage writes: OUT/img_emb/img_emb_NNNNN.npy and
            OUT/text_emb/text_emb_NNNNN.npy per shard (float16 unless --dtype float32), and each sample's similarity and
            embedding_row in OUT/index.sqlite.

            --compare-dtype int8: runs your checkpoint both ways on your images (and captions) and prints, as one JSON
            object, the cosine between the int8 and float32 embeddings (mean, 1st percentile, min), the absolute
            error of the image-text similarities (mean, p99, max), and how many keep/drop decisions at
            --min-similarity (default 0.28, LAION's) would differ: image i with caption i when their counts match,
            every image with every caption otherwise. Run it before switching embed.precision to int8: random
            test weights cannot show how a trained model's activation outliers behave.
            """,
        options: [
            .value("model", "DIR", "the CLIP checkpoint directory (required)"),
            .multi("image", "FILE", "embed these images"),
            .multi("text", "STRING", "embed these texts"),
            .value("shards", "OUT", "embed the kept samples of the finished run in OUT"),
            .value(
                "output", "-|DIR", "with --image or --text: - for one JSON object on stdout (default), or a directory"),
            .value(
                "dtype", "float16|float32",
                "element type of the .npy files (default: float16 for --shards, else float32)"),
            .value("batch-size", "N", "samples embedded at once with --shards (default 32)"),
            .value("threads", "N", "threads of the model (default: one per core)"),
            .value("compare-dtype", "int8", "compare int8 with float32 on these images and captions (see above)"),
            .value("images", "DIR", "with --compare-dtype: every image file in DIR"),
            .value(
                "min-similarity", "X", "with --compare-dtype: the threshold decisions are counted at (default 0.28)"),
            .value(
                "precision", "float32|int8",
                "the linear layers' arithmetic (default float32; int8: per-channel weights, per-token activations)"),
        ],
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "embed", options: command.options)
        _ = try a.positionals([], command: "embed")
        guard let model = a.value("model") else { throw UsageError("winnow embed: --model DIR is required") }
        var images = a.all("image")
        let texts = a.all("text")
        let shards = a.value("shards")
        if let compare = a.value("compare-dtype") {
            guard compare == "int8" else {
                throw UsageError("winnow embed: --compare-dtype must be int8, not \(compare.debugDescription)")
            }
            if let dir = a.value("images") {
                guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else {
                    throw WinnowError(.io, "\(dir): cannot list the directory")
                }
                // Only the files that start like an image (their first bytes read, not the whole file).
                images += names.sorted().map { (dir as NSString).appendingPathComponent($0) }.filter {
                    guard let h = FileHandle(forReadingAtPath: $0) else { return false }
                    defer { try? h.close() }
                    return ImageFormat.sniff([UInt8](h.readData(ofLength: 32))) != nil
                }
            }
            guard !images.isEmpty, shards == nil else {
                throw UsageError("winnow embed: --compare-dtype needs --image FILE... or --images DIR (not --shards)")
            }
            var threshold = 0.28
            if let t = a.value("min-similarity") {
                guard let v = Double(t), (-1...1).contains(v) else {
                    throw UsageError(
                        "winnow embed: --min-similarity expects a number from -1 to 1, got \(t.debugDescription)")
                }
                threshold = v
            }
            let threads = try a.int("threads", command: "embed", min: 1)
            try EmbedCommand.compare(model: model, images: images, texts: texts, threshold: threshold, threads: threads)
            return
        }
        if shards != nil && !(images.isEmpty && texts.isEmpty) {
            throw UsageError("winnow embed: --shards cannot be combined with --image or --text")
        }
        if shards == nil && images.isEmpty && texts.isEmpty {
            throw UsageError("winnow embed: give --image FILE..., --text STRING... or --shards DIR")
        }
        var dtype = NPY.DType.float16
        if let d = a.value("dtype") {
            guard let t = ["float16": NPY.DType.float16, "float32": .float32][d] else {
                let hint =
                    d == "int8" ? " (--dtype is the stored embeddings' type; int8 arithmetic is --precision int8)" : ""
                throw UsageError("winnow embed: --dtype must be float16 or float32, not \(d.debugDescription)\(hint)")
            }
            dtype = t
        }
        let batchSize = try a.int("batch-size", command: "embed", min: 1) ?? 32
        let threads = try a.int("threads", command: "embed", min: 1)
        var precision = CLIPModel.Precision.float32
        if let p = a.value("precision") {
            guard let v = CLIPModel.Precision(rawValue: p) else {
                throw UsageError("winnow embed: --precision must be float32 or int8, not \(p.debugDescription)")
            }
            precision = v
        }
        let encoder = try CLIPEncoder(directory: model, threads: threads, precision: precision)
        if let shards {
            try embedShards(shards, encoder: encoder, dtype: dtype, batchSize: batchSize)
            return
        }
        try embedArguments(
            images: images, texts: texts, encoder: encoder, output: a.value("output") ?? "-",
            dtype: a.value("dtype") == nil ? .float32 : dtype)
    }

    static func embedArguments(
        images: [String], texts: [String], encoder: CLIPEncoder, output: String, dtype: NPY.DType
    )
        throws
    {
        let decoded = try decodeImages(images)
        let d = encoder.dimension
        let imageRows = decoded.isEmpty ? [] : encoder.embedImages(decoded)
        let textRows = texts.isEmpty ? [] : encoder.embedTexts(texts)
        func row(_ rows: [Float], _ i: Int) -> [Float] { Array(rows[(i * d)..<((i + 1) * d)]) }
        var cosine: [[Float]] = []
        for i in 0..<images.count {
            let v = row(imageRows, i)
            cosine.append((0..<texts.count).map { j in zip(v, row(textRows, j)).reduce(0) { $0 + $1.0 * $1.1 } })
        }
        func numbers(_ xs: [Float]) -> String { "[" + xs.map { "\($0)" }.joined(separator: ",") + "]" }
        var json = "{\"model\":" + JSONText.quote(encoder.directory) + ",\"dimension\":\(d)"
        json += ",\"logit_scale\":\(encoder.model.logitScale)"
        if output == "-" {
            json += ",\"images\":["
            json += images.indices.map {
                "{\"file\":" + JSONText.quote(images[$0]) + ",\"embedding\":" + numbers(row(imageRows, $0)) + "}"
            }
            .joined(separator: ",")
            json += "],\"texts\":["
            json += texts.indices.map {
                "{\"text\":" + JSONText.quote(texts[$0]) + ",\"embedding\":" + numbers(row(textRows, $0)) + "}"
            }
            .joined(separator: ",")
            json += "]"
        } else {
            try OutputDirectory.makeDirectory(output)
            if !images.isEmpty {
                try ShardWriter.writeAtomically(
                    NPY.encode(imageRows, shape: [images.count, d], dtype: dtype), to: output + "/images.npy")
            }
            if !texts.isEmpty {
                try ShardWriter.writeAtomically(
                    NPY.encode(textRows, shape: [texts.count, d], dtype: dtype), to: output + "/texts.npy")
            }
            json += ",\"images\":[" + images.map(JSONText.quote).joined(separator: ",") + "]"
            json += ",\"texts\":[" + texts.map(JSONText.quote).joined(separator: ",") + "]"
        }
        if !images.isEmpty && !texts.isEmpty {
            json += ",\"cosine\":[" + cosine.map(numbers).joined(separator: ",") + "]"
        }
        json += "}\n"
        if output == "-" {
            FileHandle.standardOutput.write(Data(json.utf8))
        } else {
            try ShardWriter.writeAtomically(Array(json.utf8), to: output + "/embeddings.json")
            WinnowCLI.note("wrote \(images.count) image and \(texts.count) text embeddings to \(output)")
        }
    }

    /// Embeds the kept samples of a finished run, shard by shard, as the pipeline's embed stage would have.
    static func embedShards(_ directory: String, encoder: CLIPEncoder, dtype: NPY.DType, batchSize: Int) throws {
        let indexPath = ShardWriter.indexPath(directory)
        guard FileManager.default.fileExists(atPath: indexPath) else {
            throw WinnowError(.io, "\(directory): no index.sqlite here (not a finished Winnow run)")
        }
        let index = try ShardIndex(path: indexPath)
        let samples = try index.keptSamples()
        let d = encoder.dimension
        var failed = 0
        var embedded = 0
        var start = 0
        while start < samples.count {
            let shard = samples[start].shard
            var end = start
            while end < samples.count && samples[end].shard == shard { end += 1 }
            var imageRows: [Float] = []
            var textRows: [Float] = []
            var updates: [(id: Int64, similarity: Float, row: Int)] = []
            let path = (directory as NSString).appendingPathComponent(shard)
            var b = start
            while b < end {
                let batch = samples[b..<min(end, b + batchSize)]
                var decoded: [(pixels: [UInt8], width: Int, height: Int)] = []
                var kept: [ShardIndex.KeptSample] = []
                for s in batch {
                    do {
                        let image = try Codec.decode(TarReader.read(path: path, offset: s.offset, size: s.size))
                        decoded.append((image.pixels, image.width, image.height))
                        kept.append(s)
                    } catch {
                        WinnowCLI.note("\(path): sample \(s.key): not embedded: \(error)")
                        failed += 1
                    }
                }
                if !kept.isEmpty {
                    let imgs = encoder.embedImages(decoded)
                    let txts = encoder.embedTexts(kept.map(\.caption))
                    for (k, s) in kept.enumerated() {
                        var cosine: Float = 0
                        for j in 0..<d { cosine += imgs[k * d + j] * txts[k * d + j] }
                        updates.append((s.id, cosine, imageRows.count / d))
                        imageRows += imgs[(k * d)..<((k + 1) * d)]
                        textRows += txts[(k * d)..<((k + 1) * d)]
                    }
                }
                b += batchSize
            }
            let paths = try ShardWriter.embeddingPaths(directory, shard: shard)
            let n = imageRows.count / d
            try ShardWriter.writeAtomically(NPY.encode(imageRows, shape: [n, d], dtype: dtype), to: paths.image)
            try ShardWriter.writeAtomically(NPY.encode(textRows, shape: [n, d], dtype: dtype), to: paths.text)
            try index.setEmbeddings(updates)
            embedded += n
            start = end
        }
        try index.setRun("embed_model", URL(fileURLWithPath: encoder.directory).standardizedFileURL.path)
        WinnowCLI.note(
            "embedded \(WinnowCLI.count(embedded, "sample")) of \(directory) into its img_emb/ and text_emb/"
                + (failed > 0 ? " (\(failed) stored images did not decode)" : ""))
    }

    /// `--compare-dtype int8`: both precisions on the same inputs, and what differs.
    static func compare(model: String, images: [String], texts: [String], threshold: Double, threads: Int?) throws {
        let decoded = try decodeImages(images)
        var runs: [(images: [Float], texts: [Float])] = []
        var d = 0
        for precision in [CLIPModel.Precision.float32, .int8] {
            let encoder = try CLIPEncoder(directory: model, threads: threads, precision: precision)
            d = encoder.dimension
            runs.append((encoder.embedImages(decoded), texts.isEmpty ? [] : encoder.embedTexts(texts)))
        }
        func dot(_ a: [Float], _ i: Int, _ b: [Float], _ j: Int) -> Double {
            var s = 0.0
            for t in 0..<d { s += Double(a[i * d + t]) * Double(b[j * d + t]) }
            return s
        }
        func summary(_ xs: [Double], low: Bool) -> String {
            let s = xs.sorted()
            guard !s.isEmpty else { return "null" }
            let mean = s.reduce(0, +) / Double(s.count)
            func at(_ q: Double) -> Double { s[min(s.count - 1, Int((Double(s.count - 1) * q).rounded()))] }
            return low
                ? String(format: "{\"mean\":%.6f,\"p1\":%.6f,\"min\":%.6f}", mean, at(0.01), s[0])
                : String(format: "{\"mean\":%.6f,\"p99\":%.6f,\"max\":%.6f}", mean, at(0.99), s[s.count - 1])
        }
        let (f, q) = (runs[0], runs[1])
        let imageCosine = images.indices.map { dot(f.images, $0, q.images, $0) }
        let textCosine = texts.indices.map { dot(f.texts, $0, q.texts, $0) }
        let pairs: [(Int, Int)] =
            texts.count == images.count
            ? images.indices.map { ($0, $0) } : images.indices.flatMap { i in texts.indices.map { (i, $0) } }
        var errors: [Double] = []
        var differ = 0
        for (i, j) in pairs {
            let a = dot(f.images, i, f.texts, j)
            let b = dot(q.images, i, q.texts, j)
            errors.append(abs(a - b))
            if (a >= threshold) != (b >= threshold) { differ += 1 }
        }
        var json = "{\"model\":" + JSONText.quote(model) + ",\"compare\":\"int8 vs float32\""
        json += ",\"images\":\(images.count),\"texts\":\(texts.count)"
        json += ",\"image_cosine\":" + summary(imageCosine, low: true)
        json += ",\"text_cosine\":" + summary(textCosine, low: true)
        json += ",\"similarity_abs_error\":" + summary(errors, low: false)
        json += ",\"threshold\":\(threshold),\"pairs\":\(pairs.count),\"decisions_differ\":\(differ)}"
        print(json)
    }

    /// The images of `files`, decoded as stored (alpha over white, EXIF orientation not applied); a file that cannot
    /// be read or decoded is an error naming it.
    static func decodeImages(_ files: [String]) throws -> [(pixels: [UInt8], width: Int, height: Int)] {
        try files.map { file in
            guard let data = FileManager.default.contents(atPath: file) else {
                throw WinnowError(.io, "\(file): cannot read")
            }
            do {
                let image = try Codec.decode([UInt8](data))
                return (image.pixels, image.width, image.height)
            } catch {
                throw WinnowError(.image, "\(file): \(error)")
            }
        }
    }
}
