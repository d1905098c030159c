import CTurboJPEG
import Foundation
import Synchronization
import WinnowCore
import WinnowCrawl
import WinnowDedup
import WinnowEmbed
import WinnowFetch
import WinnowImage
import WinnowOptOut
import WinnowParquet
import WinnowSQLite
import WinnowSampleWeb
import WinnowShards
import WinnowTensor
import WinnowTestSupport

BLAS.restartWithFasterKernelsIfAvailable()

// winnow-bench: each figure beside its baseline measured in the same run, as a ratio.
// Usage: winnow-bench [--runs N] [FILTER...]   (FILTER matches benchmark names by substring)

struct Measurement {
    let name: String
    let unit: String
    let ours: [Double]  // units per second, one per run
    let baselineName: String
    let baseline: [Double]
}

/// The values of the `name value` lines named `key` that scripts/embed_peer_bench.py prints.
func peerRates(_ output: String, _ key: String) -> [Double] {
    output.split(separator: "\n").filter { $0.hasPrefix(key + " ") }.compactMap { Double($0.split(separator: " ")[1]) }
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}

/// Runs `body` once to warm up, then `runs` times; returns units per second of each run.
func measure(runs: Int, units: Double, _ body: () throws -> Void) rethrows -> [Double] {
    try body()
    var out: [Double] = []
    for _ in 0..<runs {
        let t0 = DispatchTime.now().uptimeNanoseconds
        try body()
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        out.append(units / dt)
    }
    return out
}

/// Like `measure`, for several bodies taken in turn within each run (after one warm-up each), so that the machine's
/// drift from minute to minute falls on all of them alike; units per second of each run, one list per body.
func measureInTurn(runs: Int, units: Double, _ bodies: [() throws -> Void]) throws -> [[Double]] {
    for body in bodies { try body() }
    var out = [[Double]](repeating: [], count: bodies.count)
    for _ in 0..<runs {
        for (k, body) in bodies.enumerated() {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            out[k].append(units / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
        }
    }
    return out
}

/// Runs a shell command `runs` times (after a warm-up); units per second of each run.
func measureCommand(runs: Int, units: Double, _ command: String) throws -> [Double] {
    try measure(runs: runs, units: units) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        try p.run()
        p.waitUntilExit()
        if p.terminationStatus != 0 { throw WinnowError(.io, "baseline command failed: \(command)") }
    }
}

/// Runs a program; its exit status and standard output (standard error passes through).
func output(of executable: String, _ arguments: [String]) throws -> (Int32, String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: executable)
    p.arguments = arguments
    let pipe = Pipe()
    p.standardOutput = pipe
    try p.run()
    let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    return (p.terminationStatus, out)
}

/// A peer benchmark process that runs once per request (`image_peer_bench.py --serve`): it prints `ready` after its
/// warm-up, then one `images_per_s=R` line for each line it reads.
final class PeerServer {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer = Data()

    init(python: String, arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        guard try line() == "ready" else { throw WinnowError(.io, "\(arguments.joined(separator: " ")): no warm-up") }
    }

    private func line() throws -> String {
        while true {
            if let nl = buffer.firstIndex(of: 0x0a) {
                let text = String(decoding: buffer[..<nl], as: UTF8.self)
                buffer.removeSubrange(...nl)
                return text
            }
            let more = output.fileHandleForReading.availableData
            if more.isEmpty { throw WinnowError(.io, "peer benchmark exited") }
            buffer.append(more)
        }
    }

    /// One run's rate, in images/s.
    func run() throws -> Double {
        input.fileHandleForWriting.write(Data("run\n".utf8))
        let text = try line()
        guard let field = text.split(separator: " ").first(where: { $0.hasPrefix("images_per_s=") }),
            let rate = Double(field.dropFirst("images_per_s=".count))
        else { throw WinnowError(.io, "peer benchmark: unexpected line \(text)") }
        return rate
    }

    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

/// Full-size decodes by libjpeg-turbo's TurboJPEG API (`tjDecompress2` to RGB, default flags: the accurate DCT and
/// fancy upsampling, as the image stage decodes) into one reused buffer: the raw-decode baseline.
final class TurboJPEGDecoder {
    private let handle: tjhandle
    private var buffer: [UInt8] = []
    /// Files libjpeg-turbo reported an error or a warning for (decoded as far as it went).
    private(set) var errors = 0

    init() throws {
        guard let h = tjInitDecompress() else { throw WinnowError(.io, "tjInitDecompress failed") }
        handle = h
    }

    deinit { tjDestroy(handle) }

    /// Decodes every file once.
    func decodeAll(_ jpegs: [[UInt8]]) {
        errors = 0
        for j in jpegs {
            var w: Int32 = 0
            var h: Int32 = 0
            var subsampling: Int32 = 0
            var colorspace: Int32 = 0
            let rc = j.withUnsafeBufferPointer { b -> Int32 in
                guard tjDecompressHeader3(handle, b.baseAddress, UInt(b.count), &w, &h, &subsampling, &colorspace) == 0
                else { return -1 }
                let size = Int(w) * Int(h) * 3
                if buffer.count < size { buffer = [UInt8](repeating: 0, count: size) }
                return buffer.withUnsafeMutableBufferPointer { out in
                    tjDecompress2(
                        handle, b.baseAddress, UInt(b.count), out.baseAddress, w, 0, h, Int32(TJPF_RGB.rawValue), 0)
                }
            }
            if rc != 0 { errors += 1 }
        }
    }
}

/// Runs the image stage on one downloaded file, as the pipeline does; whether the sample was kept.
func imageStage(_ processor: ImageProcessor, _ bytes: [UInt8]) -> Bool {
    var s = Sample(
        candidate: Candidate(
            url: "http://b.test/x", caption: "", pageURL: "", provenance: Provenance(inputFile: "", recordOffset: 0)))
    s.original = bytes
    processor.process(&s)
    return s.isKept
}

let args = Array(CommandLine.arguments.dropFirst())
var runs = 5
var filters: [String] = []
var i = 0
while i < args.count {
    if args[i] == "--runs", i + 1 < args.count, let n = Int(args[i + 1]) {
        runs = n
        i += 2
        continue
    }
    filters.append(args[i])
    i += 1
}
let filterList = filters
let wanted = { (name: String) -> Bool in filterList.isEmpty || filterList.contains { name.contains($0) } }

let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..")
    .standardized.path
let work = NSTemporaryDirectory() + "winnow-bench-\(getpid())"
try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: work) }
var results: [Measurement] = []

// 1. SHA-256 of downloaded bytes, against coreutils' sha256sum on the same 64 MiB.
if wanted("sha256") {
    var rng = SplitMix64(seed: 7)
    let bytes = (0..<(64 << 20)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    let path = work + "/random.bin"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let mb = Double(bytes.count) / 1e6
    let ours = measure(runs: runs, units: mb) { _ = SHA256.hash(bytes) }
    let base = try measureCommand(runs: runs, units: mb, "sha256sum \(path) > /dev/null")
    results.append(
        Measurement(name: "sha256", unit: "MB/s", ours: ours, baselineName: "sha256sum (coreutils)", baseline: base))
}

// 2. WAT to candidates, against zcat of the same file (decompression alone: the floor for any WAT reader).
if wanted("wat-read") {
    let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "../../../shared/fixtures/commoncrawl/wat"
    ).standardized.path
    var blob = Data()
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: fixtures)) ?? []).filter {
        $0.hasPrefix("generated_")
    }.sorted()
    for n in names { blob.append(try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + n))) }
    if blob.isEmpty {
        FileHandle.standardError.write(Data("wat-read: skipped, no fixtures at \(fixtures)\n".utf8))
    } else {
        var big = Data()
        for _ in 0..<40 { big.append(blob) }  // gzip members concatenate into one valid file
        let path = work + "/crawl.warc.wat.gz"
        try big.write(to: URL(fileURLWithPath: path))
        let mb = Double(big.count) / 1e6
        var count = 0
        let ours = try measure(runs: runs, units: mb) {
            let r = try CandidateReader(paths: [path])
            count = 0
            while let e = try r.next() { if case .candidate = e { count += 1 } }
        }
        let base = try measureCommand(runs: runs, units: mb, "zcat \(path) > /dev/null")
        results.append(
            Measurement(
                name: "wat-read (\(count) candidates)", unit: "MB/s gz", ours: ours, baselineName: "zcat",
                baseline: base))
    }
}

// 3. The image stage (decode at the DCT scale that covers 256 px, center crop, resize, JPEG 95) on 1024x768
//    photos-like JPEGs, against libjpeg-turbo decoding the same files at full size alone.
if wanted("image") {
    var rng = SplitMix64(seed: 3)
    var jpegs: [[UInt8]] = []
    for _ in 0..<24 {
        let scene = Scene.random(&rng)
        jpegs.append(try Codec.encodeJPEG(scene.draw(width: 1024, height: 768, rng: &rng), quality: 90))
    }
    var settings = ImageSettings()
    settings.imageSize = 256
    settings.resizeMode = .centerCrop
    let processor = ImageProcessor(settings: settings)
    let n = Double(jpegs.count)
    var failed = 0
    let ours = measure(runs: runs, units: n) {
        for j in jpegs where !imageStage(processor, j) { failed += 1 }
    }
    if failed > 0 { FileHandle.standardError.write(Data("image: \(failed) samples were dropped\n".utf8)) }
    let turbo = try TurboJPEGDecoder()
    let base = measure(runs: runs, units: n) { turbo.decodeAll(jpegs) }
    results.append(
        Measurement(
            name: "image 1024x768 -> 256 (decode+resize+encode)", unit: "images/s", ours: ours,
            baselineName: "libjpeg-turbo tjDecompress2, full size", baseline: base))
}

// 3b. The same stage on AVIF (the same kind of scenes, encoded by avifenc: 8-bit 4:2:0, quantiser 8-16, speed 8), against libavif's own decode of the same files to YUV alone (avifDecoderReadMemory,
//     in-process): the stage adds the YUV to RGB conversion, the resize and the JPEG encode.
if wanted("image-avif") {
    var rng = SplitMix64(seed: 3)
    var avifs: [[UInt8]] = []
    for k in 0..<24 {
        let scene = Scene.random(&rng)
        let png = work + "/avif-\(k).png"
        try Data(try Codec.encodePNG(scene.draw(width: 1024, height: 768, rng: &rng))).write(
            to: URL(fileURLWithPath: png))
        let (status, _) = try output(
            of: "/usr/bin/avifenc", ["--jobs", "2", "--speed", "8", "--min", "8", "--max", "16", png, png + ".avif"])
        guard status == 0 else { throw WinnowError(.io, "image-avif: avifenc failed (apt-get install libavif-bin)") }
        avifs.append(try [UInt8](Data(contentsOf: URL(fileURLWithPath: png + ".avif"))))
    }
    var settings = ImageSettings()
    settings.imageSize = 256
    settings.resizeMode = .centerCrop
    settings.minBytes = 0  // flat synthetic scenes compress to a few KB even at this quality
    let processor = ImageProcessor(settings: settings)
    var failed = 0
    let bytes = avifs.reduce(0) { $0 + $1.count }
    FileHandle.standardError.write(
        Data("image-avif: \(avifs.count) files, \(bytes / avifs.count / 1024) KiB each\n".utf8))
    let rates = try measureInTurn(
        runs: runs, units: Double(avifs.count),
        [
            { for a in avifs where !imageStage(processor, a) { failed += 1 } },
            { for a in avifs where !Codec.avifReadMemory(a) { failed += 1 } },
        ])
    if failed > 0 { FileHandle.standardError.write(Data("image-avif: \(failed) decodes failed\n".utf8)) }
    results.append(
        Measurement(
            name: "image AVIF 1024x768 -> 256 (decode+resize+encode)", unit: "images/s", ours: rates[0],
            baselineName: "libavif avifDecoderReadMemory (to YUV), same files", baseline: rates[1]))
}

// Memory, run only when named: `decode-peak` puts 16 flat PNGs near the 89.5 Mpx limit (9,400 x 9,400; 16-bit RGBA
// unless WINNOW_BENCH_PNG=grey8) through the image stage on 8 threads with the default settings, as 8 image workers
// would, and prints the process's peak RSS (getrusage; run it under /usr/bin/time -v for the kernel's own figure).
if filterList.contains("decode-peak") {
    let grey = ProcessInfo.processInfo.environment["WINNOW_BENCH_PNG"] == "grey8"
    let png =
        grey
        ? FlatPNG.make(width: 9400, height: 9400, depth: 8, pixel: [90])
        : FlatPNG.make(width: 9400, height: 9400, depth: 16, pixel: [40000, 20000, 10000, 65535])
    let processor = ImageProcessor(settings: ImageSettings())
    let t0 = DispatchTime.now().uptimeNanoseconds
    let outcomes = processConcurrently(png, copies: 16, threads: 8, with: processor)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    print(
        "decode-peak: 16 x \(grey ? "8-bit grey" : "16-bit RGBA") 9400x9400 PNG (\(png.count) bytes), 8 threads: "
            + "\(outcomes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")); "
            + String(format: "%.1f s, peak RSS %.0f MB", seconds, Double(usage.ru_maxrss) * 1024 / 1e6)
            + "; decode budget peak \(processor.budget.highWater >> 20) of \(processor.budget.capacity >> 20) MiB")
}

// Profiling aids, run only when named: one read with one thread, or libdeflate alone, of the wat-300 file (or of
// $WINNOW_BENCH_WAT), for perf and callgrind.
let profiledWAT =
    ProcessInfo.processInfo.environment["WINNOW_BENCH_WAT"] ?? packageRoot
    + "/.build/bench-data/replicated-300mb.warc.wat.gz"
if filterList.contains("parse-read1") {
    let path = profiledWAT
    for _ in 0..<runs {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = try CandidateReader(paths: [path], threads: 1)
        var n = 0
        while try r.next() != nil { n += 1 }
        print("read1", n, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
}
if filterList.contains("inflate1") {
    let path = profiledWAT
    for _ in 0..<runs {
        let t0 = DispatchTime.now().uptimeNanoseconds
        _ = try RawInflate.libdeflate(path: path)
        print("inflate1", Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
    }
}
// Profiling aid, run only when named: the wat-300 read with 1 and 2 threads, each run next to a run of libdeflate
// alone, so that the ratios see the same machine (this VM's speed drifts by 20% between minutes).
if filterList.contains("parse-profile") {
    let path = packageRoot + "/.build/bench-data/replicated-300mb.warc.wat.gz"
    if FileManager.default.fileExists(atPath: path) {
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        func read(_ threads: Int) throws {
            let r = try CandidateReader(paths: [path], threads: threads)
            while try r.next() != nil {}
        }
        // Each read sits between two runs of libdeflate alone, and is set against their mean; the best of each kind
        // of run is reported too (the least disturbed by the rest of the machine).
        var one: [Double] = []
        var two: [Double] = []
        var bases: [Double] = []
        var ones: [Double] = []
        var twos: [Double] = []
        var before = try seconds { _ = try RawInflate.libdeflate(path: path) }
        bases.append(before)
        for _ in 0..<runs {
            let r1 = try seconds { try read(1) }
            let middle = try seconds { _ = try RawInflate.libdeflate(path: path) }
            let r2 = try seconds { try read(2) }
            let after = try seconds { _ = try RawInflate.libdeflate(path: path) }
            one.append((before + middle) / 2 / r1)
            two.append((middle + after) / 2 / r2)
            bases += [middle, after]
            ones.append(r1)
            twos.append(r2)
            before = after
        }
        let best = bases.min() ?? 0
        print(
            String(
                format:
                    "parse-profile: against libdeflate alone: 1 thread %.2fx (%.2f-%.2f), 2 threads %.2fx (%.2f-%.2f); "
                    + "best runs: 1 thread %.2fx, 2 threads %.2fx",
                median(one), one.min() ?? 0, one.max() ?? 0, median(two), two.min() ?? 0, two.max() ?? 0,
                best / (ones.min() ?? 1), best / (twos.min() ?? 1)))
    } else {
        FileHandle.standardError.write(Data("parse-profile: run the wat-300 benchmark first to build \(path)\n".utf8))
    }
}

// 4. WAT parsing at scale: a >= 300 MB WAT made by replicating the real samples with varied hosts, read by winnow
//    (1 and 2 threads) beside raw inflate with the same libraries and cc2dataset's own extraction, in the same run.
if wanted("wat-300") {
    let data = packageRoot + "/.build/bench-data"
    try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
    let path = data + "/replicated-300mb.warc.wat.gz"
    if !FileManager.default.fileExists(atPath: path) { try buildReplicatedWAT(path: path, targetBytes: 300_000_000) }
    let mb = Double(fileSize(atPath: path)) / 1e6
    let (members, inflated) = try RawInflate.libdeflate(path: path)
    FileHandle.standardError.write(
        Data(
            "wat-300: \(String(format: "%.0f", mb)) MB, \(members) records, \(inflated / 1_000_000) MB inflated\n".utf8)
    )
    var candidates = 0
    func readAll(threads: Int) throws {
        let r = try CandidateReader(paths: [path], threads: threads)
        candidates = 0
        while let e = try r.next() { if case .candidate = e { candidates += 1 } }
    }
    // In turn within each run: libdeflate alone, zlib alone, the read with 1 and with 2 threads.
    let timed = try measureInTurn(
        runs: runs, units: mb,
        [
            { _ = try RawInflate.libdeflate(path: path) }, { _ = try RawInflate.zlib(path: path) },
            { try readAll(threads: 1) }, { try readAll(threads: 2) },
        ])
    let (deflate, zlib, one, two) = (timed[0], timed[1], timed[2], timed[3])
    let perRecord = Double(members) / mb
    let perCandidate = Double(candidates) / mb
    FileHandle.standardError.write(
        Data(
            String(
                format: "wat-300: %d candidates; 1 thread %.0f records/s %.0f candidates/s\n", candidates,
                median(one) * perRecord, median(one) * perCandidate
            ).utf8))
    results.append(
        Measurement(
            name: "wat-300 read, 1 thread", unit: "MB/s gz", ours: one,
            baselineName: "libdeflate inflate alone, 1 thread", baseline: deflate))
    results.append(
        Measurement(
            name: "wat-300 read, 1 thread", unit: "MB/s gz", ours: one, baselineName: "zlib inflate alone, 1 thread",
            baseline: zlib))
    results.append(
        Measurement(
            name: "wat-300 read, 2 threads", unit: "MB/s gz", ours: two,
            baselineName: "libdeflate inflate alone, 1 thread", baseline: deflate))
    let python = packageRoot + "/.venv-bench/bin/python"
    if FileManager.default.isExecutableFile(atPath: python) {
        var cc2: [Double] = []
        for _ in 0..<max(1, runs / 2) {
            let (_, out) = try output(of: python, [packageRoot + "/scripts/cc2dataset_bench.py", path])
            if let line = out.split(separator: "\n").first(where: { $0.hasPrefix("elapsed_s=") }),
                let s = Double(line.dropFirst("elapsed_s=".count).split(separator: " ")[0])
            {
                cc2.append(mb / s)
            }
        }
        if !cc2.isEmpty {
            results.append(
                Measurement(
                    name: "wat-300 read, 1 thread", unit: "MB/s gz", ours: one,
                    baselineName: "cc2dataset 1.5.0 process_wat, 1 core", baseline: cc2))
        }
    } else {
        FileHandle.standardError.write(
            Data("wat-300: no .venv-bench (run scripts/bench-setup.sh) -- cc2dataset not measured\n".utf8))
    }
}

// 4a. The same WAT read over HTTP: nginx on 127.0.0.1 serves the wat-300 file, read by `winnow parse`'s reader
//     through RemoteFiles (libcurl, streamed, resumable), beside the same read of the local file, in turn within
//     each run; one thread each, and each side's candidates counted (they must be equal).
if wanted("wat-300-http") {
    let data = packageRoot + "/.build/bench-data"
    try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
    let path = data + "/replicated-300mb.warc.wat.gz"
    if !FileManager.default.fileExists(atPath: path) { try buildReplicatedWAT(path: path, targetBytes: 300_000_000) }
    let mb = Double(fileSize(atPath: path)) / 1e6
    let nginx = try Nginx(root: data)
    defer { nginx.stop() }
    var settings = RemoteSettings()
    settings.allowedRanges = [CIDR("127.0.0.0/8")!]  // ok: a valid range
    let remote = RemoteFiles(settings: settings)
    let url = "http://127.0.0.1:\(nginx.port)/replicated-300mb.warc.wat.gz"
    var counts: [String: Int] = [:]
    func readAll(_ input: String) throws {
        let r = try CandidateReader(paths: [input], threads: 1, remote: remote)
        var n = 0
        while let e = try r.next() {
            switch e {
            case .candidate: n += 1
            case .skipped(let e): throw WinnowError(.io, "wat-300-http: \(e)")
            }
        }
        counts[input] = n
    }
    let timed = try measureInTurn(runs: runs, units: mb, [{ try readAll(path) }, { try readAll(url) }])
    guard counts[path] == counts[url] else {
        throw WinnowError(.io, "wat-300-http: \(counts[url] ?? 0) candidates over HTTP, \(counts[path] ?? 0) local")
    }
    FileHandle.standardError.write(
        Data("wat-300-http: \(String(format: "%.0f", mb)) MB, \(counts[path] ?? 0) candidates each way\n".utf8))
    results.append(
        Measurement(
            name: "wat-300 read over HTTP (nginx, 127.0.0.1), 1 thread", unit: "MB/s gz", ours: timed[1],
            baselineName: "the same read of the local file, 1 thread", baseline: timed[0]))
}

// 4b. Parquet metadata: a LAION-shaped file of 1,000,000 rows (URL ~92 bytes, TEXT ~48, plus similarity, hash,
//     punsafe; snappy, row groups of 100,000; made by scripts/parquet_peer_bench.py) read into candidates by
//     `winnow parse`'s reader on one thread (URL and caption columns only; URLs checked and normalised, captions
//     cleaned, keys hashed; each candidate freed once counted), beside pyarrow reading the same two columns into
//     Python strings on one thread (`read_table(columns=[URL, TEXT])`, `.to_pylist()` of each, then freed; the
//     median of three reads in one process), taken in turn within each run. Beside them, the whole
//     `winnow parse FILE --threads 1 --output DIR` command (process start, filters, keys, md5 uids, JSON Lines
//     written to candidate files): more work than the peer does, measured so that the gap is known.
if wanted("parquet-read") {
    let python = packageRoot + "/.venv-bench-parquet/bin/python"
    let script = packageRoot + "/scripts/parquet_peer_bench.py"
    if FileManager.default.isExecutableFile(atPath: python) {
        let data = packageRoot + "/.build/bench-data"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let path = data + "/laion-1m.parquet"
        let rows = 1_000_000
        if !FileManager.default.fileExists(atPath: path) {
            let (status, _) = try output(of: python, [script, "--make", path, "--rows", String(rows)])
            if status != 0 {
                throw WinnowError(.io, "parquet-read: \(script) --make failed (run scripts/bench-setup.sh)")
            }
        }
        var options = URLListOptions(urlColumn: "URL", captionColumn: "TEXT")
        options.format = "parquet"
        var candidates = 0
        var ours: [Double] = []
        var peer: [Double] = []
        func readAll() throws {
            let r = try CandidateReader(paths: [path], threads: 1, lists: options)
            candidates = 0
            while let e = try r.next() { if case .candidate = e { candidates += 1 } }
        }
        var decodeOnly: [Double] = []
        var command: [Double] = []
        let winnow = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/winnow"
        let parseOut = data + "/parquet-parse-out"
        func parseCommand() throws {
            let (status, _) = try output(
                of: winnow,
                [
                    "parse", path, "--url-col", "URL", "--caption-col", "TEXT", "--threads", "1", "--output", parseOut,
                    "--overwrite",
                ])
            if status != 0 { throw WinnowError(.io, "parquet-read: winnow parse failed") }
        }
        func decodeAll() throws {
            let f = try ParquetFile(path: path)
            let columns = [f.column(named: "URL")!, f.column(named: "TEXT")!]  // ok: the file made above has them
            for g in 0..<f.rowGroupRows.count { _ = try f.read(rowGroup: g, columns: columns) }
        }
        try readAll()
        for _ in 0..<runs {
            var t0 = DispatchTime.now().uptimeNanoseconds
            try decodeAll()
            decodeOnly.append(Double(rows) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
            t0 = DispatchTime.now().uptimeNanoseconds
            try readAll()
            ours.append(Double(rows) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
            // Three reads in one process, their median: a process's first read is slower (pyarrow's start-up),
            // and Winnow's side is measured warm too.
            let (_, out) = try output(
                of: python, [script, path, "--url-col", "URL", "--caption-col", "TEXT", "--runs", "3"])
            if let json = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any],
                let s = json["median"] as? Double
            {
                peer.append(Double(rows) / s)
            }
            if FileManager.default.isExecutableFile(atPath: winnow) {
                t0 = DispatchTime.now().uptimeNanoseconds
                try parseCommand()
                command.append(Double(rows) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9))
            }
        }
        try? FileManager.default.removeItem(atPath: parseOut)
        FileHandle.standardError.write(
            Data(
                "parquet-read: \(rows) rows, \(candidates) candidates, \(fileSize(atPath: path) / 1_000_000) MB\n".utf8)
        )
        if !peer.isEmpty {
            results.append(
                Measurement(
                    name: "parquet decode only: URL + TEXT columns, 1 thread", unit: "rows/s", ours: decodeOnly,
                    baselineName: "pyarrow 26.0.1 read_table(2 columns).to_pylist(), 1 thread", baseline: peer))
            results.append(
                Measurement(
                    name: "parquet read: URL + TEXT to candidates, 1 thread", unit: "rows/s", ours: ours,
                    baselineName: "pyarrow 26.0.1 read_table(2 columns).to_pylist(), 1 thread", baseline: peer))
            if !command.isEmpty {
                results.append(
                    Measurement(
                        name: "winnow parse FILE.parquet --threads 1 (whole command, JSON Lines out)", unit: "rows/s",
                        ours: command,
                        baselineName: "pyarrow 26.0.1 read_table(2 columns).to_pylist(), 1 thread", baseline: peer))
            }
        }
    } else {
        FileHandle.standardError.write(
            Data("parquet-read: no .venv-bench-parquet (run scripts/bench-setup.sh) -- not measured\n".utf8))
    }
}

// 5. Fetch: scripts/bench_fetch.sh serves a local web of 5,000 URLs (4,750 images, 250 broken) with nginx and runs
//    `winnow run pipelines/bench-fetch.json` and img2dataset 1.47 on it one after the other (same resize, same
//    shards); beside it, Winnow's image stage alone on the same files, read from disk first (no network), with the
//    same settings on two threads: the downloader's own cost is the gap between the two.
if wanted("fetch") {
    let dir = packageRoot + "/.build/bench-data/fetch-web"
    var ours: [Double] = []
    var peer: [Double] = []
    for _ in 0..<max(1, runs / 2) {
        let (status, out) = try output(of: "/bin/bash", [packageRoot + "/scripts/bench_fetch.sh", dir])
        FileHandle.standardError.write(Data(out.utf8))
        func rate(_ tool: String) -> Double? {
            guard let line = out.split(separator: "\n").first(where: { $0.hasPrefix(tool + ":") }),
                let r = line.range(of: #"([0-9.]+) images/s"#, options: .regularExpression)
            else { return nil }
            return Double(line[r].split(separator: " ")[0])
        }
        guard status == 0, let w = rate("winnow"), let i = rate("img2dataset") else {
            throw WinnowError(.io, "scripts/bench_fetch.sh failed (exit \(status))")
        }
        ours.append(w)
        peer.append(i)
    }
    results.append(
        Measurement(
            name: "fetch + 256px crop into shards, 5,000 URLs (nginx, 2 cores)", unit: "images/s", ours: ours,
            baselineName: "img2dataset 1.47.0, 2 processes x 32 threads", baseline: peer))

    // The image stage alone on the files the run downloaded.
    let site = dir + "/site"
    let urls = try String(contentsOfFile: dir + "/urls.txt", encoding: .utf8).split(separator: "\n")
    var files: [[UInt8]] = []
    for u in urls {
        guard let r = u.range(of: "/img/") else { continue }
        if let d = FileManager.default.contents(atPath: site + "/img/" + u[r.upperBound...]) {
            files.append([UInt8](d))
        }
    }
    var settings = ImageSettings()
    settings.imageSize = 256
    settings.resizeMode = .centerCrop
    settings.minBytes = 0
    settings.maxAspectRatio = 1000
    settings.md5AndSHA1 = false  // as pipelines/bench-fetch.json
    settings.pdq = false
    let processor = ImageProcessor(settings: settings)
    let inputs = files
    let kept = Mutex(0)
    let alone = measure(runs: runs, units: Double(files.count)) {
        kept.withLock { $0 = 0 }
        DispatchQueue.concurrentPerform(iterations: 2) { worker in
            var n = 0
            for k in stride(from: worker, to: inputs.count, by: 2) where imageStage(processor, inputs[k]) { n += 1 }
            kept.withLock { $0 += n }
        }
    }
    FileHandle.standardError.write(
        Data("fetch: image stage alone kept \(kept.withLock { $0 }) of \(files.count) files\n".utf8))
    results.append(
        Measurement(
            name: "fetch + 256px crop into shards, 5,000 URLs (nginx, 2 cores)", unit: "images/s", ours: ours,
            baselineName: "winnow image stage alone on the same 4,750 files (no network, 2 threads)", baseline: alone))
}

// 6. The image stage per core on the fetch benchmark's web (every 8th file: JPEG, PNG and WebP as served), beside
//    img2dataset 1.47's own Resizer (OpenCV, as img2dataset calls it) and Pillow with draft mode, both run by
//    scripts/image_peer_bench.py in .venv-bench-fetch, and beside libjpeg-turbo decoding the same JPEGs at full size.
//    Same work everywhere: 256 px centre crop, JPEG 95, one core.
if wanted("image-peers") {
    let dir = packageRoot + "/.build/bench-data/fetch-web/site/img"
    let python = packageRoot + "/.venv-bench-fetch/bin/python"
    guard FileManager.default.isExecutableFile(atPath: python),
        let names = try? FileManager.default.contentsOfDirectory(atPath: dir).sorted()
    else {
        throw WinnowError(.io, "image-peers: run `make bench-fetch` once first (it builds the web and the venv)")
    }
    let paths = names.enumerated().filter { $0.offset % 8 == 0 }.map { dir + "/" + $0.element }
    let list = work + "/image-peers.txt"
    try (paths.joined(separator: "\n") + "\n").write(toFile: list, atomically: true, encoding: .utf8)
    let files = try paths.map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: $0))) }
    var settings = ImageSettings()
    settings.imageSize = 256
    settings.resizeMode = .centerCrop
    settings.minBytes = 0
    settings.maxAspectRatio = 1000
    settings.md5AndSHA1 = false
    settings.pdq = false  // the peers compute no perceptual hash
    let processor = ImageProcessor(settings: settings)
    var failed = 0
    let ours = measure(runs: runs, units: Double(files.count)) {
        for f in files where !imageStage(processor, f) { failed += 1 }
    }
    if failed > 0 { FileHandle.standardError.write(Data("image-peers: \(failed) samples were dropped\n".utf8)) }
    for (tool, label) in [
        ("img2dataset", "img2dataset 1.47 Resizer (OpenCV INTER_AREA), 1 core"),
        ("pillow-draft", "Pillow 13 with draft mode + LANCZOS, 1 core"),
    ] {
        let (status, out) = try output(
            of: python, [packageRoot + "/scripts/image_peer_bench.py", tool, list, "--runs", String(runs)])
        let rates = out.split(separator: "\n").compactMap { line in
            line.split(separator: " ").first { $0.hasPrefix("images_per_s=") }.flatMap {
                Double($0.dropFirst("images_per_s=".count))
            }
        }
        guard status == 0, !rates.isEmpty else { throw WinnowError(.io, "image_peer_bench.py \(tool) failed") }
        results.append(
            Measurement(
                name: "image stage, \(files.count) files of the fetch web -> 256 crop (1 core)", unit: "images/s",
                ours: ours, baselineName: label, baseline: rates))
    }
    // Run only when named: runs of the stage alternating with runs of each peer, the ratio taken per pair. The peers
    // are started once and warmed up, then run on request (image_peer_bench.py --serve), so that the two runs of a
    // pair are back to back (this VM's speed drifts by a fifth between minutes); which side goes first alternates.
    if filterList.contains("image-paired") {
        for (tool, label) in [("img2dataset", "img2dataset's resizer"), ("pillow-draft", "Pillow with draft mode")] {
            let peer = try PeerServer(
                python: python, arguments: [packageRoot + "/scripts/image_peer_bench.py", tool, list, "--serve"])
            var ratios: [Double] = []
            for pair in 0..<runs {
                func oursRate() -> Double {
                    let t0 = DispatchTime.now().uptimeNanoseconds
                    for f in files where !imageStage(processor, f) { failed += 1 }
                    return Double(files.count) * 1e9 / Double(DispatchTime.now().uptimeNanoseconds - t0)
                }
                if pair % 2 == 0 {
                    let a = oursRate()
                    ratios.append(a / (try peer.run()))
                } else {
                    let b = try peer.run()
                    ratios.append(oursRate() / b)
                }
            }
            peer.stop()
            print(
                String(
                    format: "image-paired: against %@, %d back-to-back pairs: median %.2fx (%.2f-%.2f)", label, runs,
                    median(ratios), ratios.min() ?? 0, ratios.max() ?? 0))
        }
    }
    let jpegs = files.filter { ImageFormat.sniff($0) == .jpeg }
    let turbo = try TurboJPEGDecoder()
    let decodeOnly = measure(runs: runs, units: Double(jpegs.count)) { turbo.decodeAll(jpegs) }
    if turbo.errors > 0 {
        FileHandle.standardError.write(
            Data(
                "image-peers: tjDecompress2 reported \(turbo.errors) damaged JPEGs (decoded as far as they went)\n".utf8
            ))
    }
    results.append(
        Measurement(
            name: "image stage, \(files.count) files of the fetch web -> 256 crop (1 core)", unit: "images/s",
            ours: ours,
            baselineName: "libjpeg-turbo tjDecompress2 at full size alone, the set's \(jpegs.count) JPEGs",
            baseline: decodeOnly))
}

// What the default image settings cost (issue 27): the image stage over every 4th file of the fetch web (256 px
// centre crop, JPEG 95) with the defaults (SHA-256, MD5 and SHA-1 of the original, PDQ with its mirror and border
// hashes) beside SHA-256 only and no PDQ, in turn within each run, one core. Goal: >= 0.85x.
if wanted("image-hashes") {
    let dir = packageRoot + "/.build/bench-data/fetch-web/site/img"
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir).sorted() else {
        throw WinnowError(.io, "image-hashes: run `make bench-fetch` once first (it builds the fetch web)")
    }
    let files = try names.enumerated().filter { $0.offset % 4 == 0 }.map {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0.element)))
    }
    var defaults = ImageSettings()
    defaults.imageSize = 256
    defaults.resizeMode = .centerCrop
    defaults.minBytes = 0
    var plain = defaults
    plain.md5AndSHA1 = false
    plain.pdq = false
    var digestsOnly = plain
    digestsOnly.md5AndSHA1 = true
    var pdqOnly = plain
    pdqOnly.pdq = true
    let processors = [defaults, plain, digestsOnly, pdqOnly].map { ImageProcessor(settings: $0) }
    var failed = 0
    let timed = try measureInTurn(
        runs: runs, units: Double(files.count),
        processors.map { p in { for f in files where !imageStage(p, f) { failed += 1 } } })
    FileHandle.standardError.write(
        Data(
            String(
                format:
                    "image-hashes: images/s defaults %.1f, SHA-256 only %.1f, + MD5 and SHA-1 %.1f, + PDQ %.1f (%d dropped)\n",
                median(timed[0]), median(timed[1]), median(timed[2]), median(timed[3]), failed
            ).utf8))
    results.append(
        Measurement(
            name:
                "image stage, default hashes (MD5, SHA-1, SHA-256, PDQ), \(files.count) files of the fetch web (1 core)",
            unit: "images/s", ours: timed[0], baselineName: "the same with SHA-256 only and no PDQ", baseline: timed[1])
    )
}

// The int8 kernels (issue 27) on ViT-B/32's MLP product, as one worker of the embed stage runs it (8 images of
// 50 tokens: 400 x 768 times 768 x 3072, one core), beside OpenBLAS's sgemm on the same shape in float32: the
// multiply-adds a second of each kernel path and of sgemm, in turn within each run.
if wanted("qgemm") {
    let (m, k, n) = (400, 768, 3072)
    var seed: UInt64 = 7
    func next() -> UInt64 {
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return seed >> 33
    }
    let a8 = (0..<(m * k)).map { _ in UInt8(truncatingIfNeeded: next()) & 0x7f }
    let w8 = QuantizedGEMM.Weights((0..<(n * k)).map { _ in Int8(truncatingIfNeeded: next()) }, n: n, k: k)
    let af = a8.map { Float($0) / 127 }
    let wf = (0..<(n * k)).map { _ in Float(Int8(truncatingIfNeeded: next())) / 127 }
    var cf = [Float](repeating: 0, count: m * n)
    let saved = BLAS.threads
    BLAS.threads = 1
    defer { BLAS.threads = saved }
    let paths = QuantizedGEMM.Path.allCases.filter {
        $0 != .best && $0.rawValue <= QuantizedGEMM.bestPath.rawValue && $0 != .portable
    }
    var bodies: [() throws -> Void] = [
        {
            cf.withUnsafeMutableBufferPointer {
                BLAS.sgemm(transB: true, m: m, n: n, k: k, a: af, lda: k, b: wf, ldb: k, c: $0.baseAddress!, ldc: n)
            }
        }
    ]
    for p in paths { bodies.append({ _ = QuantizedGEMM.multiply(a8, m: m, w8, path: p) }) }
    let timed = try measureInTurn(runs: runs * 3, units: Double(m * n * k), bodies)
    for (i, p) in paths.enumerated() {
        results.append(
            Measurement(
                name: "int8 GEMM \(p) (u8 x s8 -> s32), ViT-B/32 MLP 400x768x3072, 1 core", unit: "MAC/s",
                ours: timed[i + 1], baselineName: "OpenBLAS sgemm (\(BLAS.coreName)), same shape, float32",
                baseline: timed[0]))
    }
}

// CLIP's image tower with int8 linear layers (issue 27) beside the same tower in float32, on a ViT-B/32-shaped
// random checkpoint (scripts/make_vit_b32_random.py, numpy only), batch 16, both cores, in turn within each run;
// the embeddings' cosine between the two and the encoder layers' resident weight bytes are printed.
if wanted("embed-int8") {
    let dir = packageRoot + "/.build/bench-data/vit-b32-random"
    if !FileManager.default.fileExists(atPath: dir + "/model.safetensors") {
        let (status, _) = try output(
            of: packageRoot + "/.venv/bin/python",
            [packageRoot + "/scripts/make_vit_b32_random.py", packageRoot + "/../shared/fixtures/clip-tiny/model", dir])
        if status != 0 {
            throw WinnowError(.io, "embed-int8: scripts/make_vit_b32_random.py failed (make test makes .venv)")
        }
    }
    let f32 = try CLIPModel(directory: dir)
    let i8 = try CLIPModel(directory: dir, precision: .int8)
    let batch = 16
    var seed: UInt64 = 3
    let pixels = (0..<(batch * 3 * 224 * 224)).map { _ -> Float in
        seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Float(Int(seed >> 40) % 2001 - 1000) / 600
    }
    let a = f32.encodeImages(pixels, count: batch)
    let b = i8.encodeImages(pixels, count: batch)
    let d = f32.config.projection
    var worst = 1.0
    var sum = 0.0
    for i in 0..<batch {
        var ab = 0.0, aa = 0.0, bb = 0.0
        for t in 0..<d {
            ab += Double(a[i * d + t]) * Double(b[i * d + t])
            aa += Double(a[i * d + t]) * Double(a[i * d + t])
            bb += Double(b[i * d + t]) * Double(b[i * d + t])
        }
        let c = ab / (aa.squareRoot() * bb.squareRoot())
        worst = min(worst, c)
        sum += c
    }
    let timed = try measureInTurn(
        runs: runs, units: Double(batch),
        [{ _ = i8.encodeImages(pixels, count: batch) }, { _ = f32.encodeImages(pixels, count: batch) }])
    FileHandle.standardError.write(
        Data(
            String(
                format:
                    "embed-int8: cosine int8 vs float32 over %d images: mean %.6f, min %.6f; encoder linear weights %.0f MB int8, %.0f MB float32; whole model resident %.0f MB int8, %.0f MB float32 (%.2fx); kernels %@\n",
                batch, sum / Double(batch), worst, Double(i8.encoderLinearBytes) / 1e6,
                Double(f32.encoderLinearBytes) / 1e6, Double(i8.residentBytes) / 1e6, Double(f32.residentBytes) / 1e6,
                Double(i8.residentBytes) / Double(f32.residentBytes),
                "\(QuantizedGEMM.bestPath)"
            ).utf8))
    results.append(
        Measurement(
            name: "CLIP ViT-B/32 image tower, int8 linear layers, batch 16 (2 cores)", unit: "images/s",
            ours: timed[0], baselineName: "the same tower in float32 (OpenBLAS \(BLAS.coreName))", baseline: timed[1]))
}

// 7. CLIP embedding on the CPU: a ViT-B/32-shaped random-weight checkpoint (made once by
//    scripts/embed_peer_bench.py with transformers, in .venv-embed), batches of 16, both cores. Beside it: PyTorch
//    (transformers' CLIPModel, 2 threads) on the same checkpoint in the same run, and the sgemm limit: the tower's
//    matrix-product FLOPs at the rate OpenBLAS reaches on its largest product. Outputs are checked against PyTorch's
//    on the same inputs first.
if wanted("embed") {
    let python = packageRoot + "/.venv-embed/bin/python"
    let script = packageRoot + "/scripts/embed_peer_bench.py"
    let model = packageRoot + "/.build/bench-data/clip-b32"
    let refDir = packageRoot + "/.build/bench-data/clip-b32-ref"
    guard FileManager.default.isExecutableFile(atPath: python) else {
        throw WinnowError(.io, "embed: .venv-embed is missing: run `make bench` (scripts/bench-setup.sh makes it)")
    }
    if !FileManager.default.fileExists(atPath: model + "/model.safetensors") {
        guard try output(of: python, [script, "make-model", model]).0 == 0,
            try output(of: python, [script, "reference", model, refDir]).0 == 0
        else { throw WinnowError(.io, "embed: scripts/embed_peer_bench.py could not make the checkpoint") }
    }
    let encoder = try CLIPEncoder(directory: model)
    let config = encoder.model.config
    func npy(_ name: String) throws -> NPY.Array {
        try NPY.decode([UInt8](Data(contentsOf: URL(fileURLWithPath: refDir + "/" + name))), name: name)
    }
    // Correctness on this shape first: PyTorch's float32 embeddings of the same inputs.
    let refPixels = try npy("pixels.npy")
    let refImages = try npy("image_embeds.npy")
    let refTexts = try npy("text_embeds.npy")
    let idsData = try [UInt8](Data(contentsOf: URL(fileURLWithPath: refDir + "/ids.npy")))
    let ids: [[Int32]] = (0..<4).map { row in
        (0..<77).map { t in
            idsData.withUnsafeBytes {
                Int32(truncatingIfNeeded: $0.loadUnaligned(fromByteOffset: 128 + 8 * (row * 77 + t), as: Int64.self))
            }
        }
    }
    let gotImages = encoder.model.encodeImages(refPixels.values, count: 4)
    let gotTexts = encoder.model.encodeTexts(ids)
    let imageError = zip(gotImages, refImages.values).map { abs($0 - $1) }.max() ?? .infinity
    let textError = zip(gotTexts, refTexts.values).map { abs($0 - $1) }.max() ?? .infinity
    FileHandle.standardError.write(
        Data(
            "embed: ViT-B/32 shape, max |winnow - pytorch|: image \(imageError), text \(textError); OpenBLAS core \(BLAS.coreName), \(BLAS.threads) threads\n"
                .utf8))
    guard imageError < 1e-3, textError < 1e-3 else { throw WinnowError(.io, "embed: outputs differ from PyTorch") }

    let batch = 16
    var rng = SplitMix64(seed: 3)
    let pixels = (0..<(batch * 3 * config.imageSize * config.imageSize)).map { _ in
        Float(Int(rng.next() % 2001) - 1000) / 1000
    }
    let ours = measure(runs: runs, units: Double(batch)) { _ = encoder.model.encodeImages(pixels, count: batch) }
    // The same checkpoint with int8 linear layers (issue 27), beside PyTorch's dynamic int8 below.
    let int8Model = try CLIPModel(directory: model, precision: .int8)
    let oursInt8 = measure(runs: runs, units: Double(batch)) { _ = int8Model.encodeImages(pixels, count: batch) }
    // The sgemm limit: FLOPs of the tower's products per image, at OpenBLAS's rate on the MLP's product.
    let v = config.vision
    let tokens = Double(config.gridSide * config.gridSide + 1)
    let perLayer =
        2 * tokens * Double(v.hidden) * Double(4 * v.hidden + 2 * v.intermediate)
        + 2 * 2 * tokens * tokens * Double(v.hidden)
    let flops =
        Double(v.layers) * perLayer + 2 * (tokens - 1) * Double(3 * config.patchSize * config.patchSize * v.hidden)
    // As the model runs it: each core takes half the batch with single-threaded OpenBLAS calls.
    let workers = encoder.model.threads
    let m = batch / workers * Int(tokens)
    let a = [Float](repeating: 0.01, count: m * v.hidden)
    let w = [Float](repeating: 0.01, count: v.intermediate * v.hidden)
    let gemmFlops = 2 * Double(m) * Double(v.hidden) * Double(v.intermediate) * Double(workers)
    let gemmRate = measure(runs: runs * 4, units: gemmFlops) {
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            var c = [Float](repeating: 0, count: m * v.intermediate)
            c.withUnsafeMutableBufferPointer {
                BLAS.sgemm(
                    transB: true, m: m, n: v.intermediate, k: v.hidden, a: a, lda: v.hidden, b: w, ldb: v.hidden,
                    c: $0.baseAddress!, ldc: v.intermediate)
            }
        }
    }
    FileHandle.standardError.write(
        Data(
            String(format: "embed: %.2f GFLOP an image; sgemm %.0f GFLOP/s\n", flops / 1e9, median(gemmRate) / 1e9).utf8
        ))
    let (status, out) = try output(
        of: python, [script, "time", model, "--runs", String(runs), "--batch", String(batch), "--int8"])
    func rates(_ key: String) -> [Double] { peerRates(out, key) }
    guard status == 0, !rates("images_fp32").isEmpty else { throw WinnowError(.io, "embed: the PyTorch run failed") }
    FileHandle.standardError.write(Data(out.utf8))
    let name = "CLIP ViT-B/32 image tower, 224 px, batch 16, fp32 (2 cores)"
    results.append(
        Measurement(
            name: name, unit: "images/s", ours: ours, baselineName: "PyTorch (transformers), 2 threads",
            baseline: rates("images_fp32")))
    results.append(
        Measurement(
            name: name, unit: "images/s", ours: ours, baselineName: "sgemm limit (OpenBLAS \(BLAS.coreName))",
            baseline: gemmRate.map { $0 / flops }))
    let int8Name =
        "CLIP ViT-B/32 image tower, 224 px, batch 16, int8 linear layers (\(QuantizedGEMM.bestPath), 2 cores)"
    results.append(
        Measurement(
            name: int8Name, unit: "images/s", ours: oursInt8,
            baselineName: "PyTorch dynamic int8 (quantize_dynamic, fbgemm), 2 threads", baseline: rates("images_int8")))
    // Winnow's int8 tower and PyTorch's dynamic int8 in turn, a run of each per pair (PyTorch's rate drifts
    // between processes), so that each pair's ratio compares the two in the same minutes.
    var pairedOurs: [Double] = []
    var pairedPeer: [Double] = []
    for _ in 0..<runs {
        // Each side warm, the median of 3 timed batches after a warm-up.
        pairedOurs.append(
            median(measure(runs: 3, units: Double(batch)) { _ = int8Model.encodeImages(pixels, count: batch) }))
        let (s8, o8) = try output(
            of: python, [script, "time", model, "--runs", "3", "--batch", String(batch), "--int8-images-only"])
        let peer = peerRates(o8, "images_int8")
        guard s8 == 0, !peer.isEmpty else { throw WinnowError(.io, "embed: the PyTorch int8 run failed") }
        pairedPeer.append(median(peer))
    }
    let pairRatios = zip(pairedOurs, pairedPeer).map { $0 / $1 }.sorted()
    let listed = pairRatios.map { String(format: "%.2f", $0) }.joined(separator: " ")
    FileHandle.standardError.write(
        Data(
            "embed: int8 image tower in turn with PyTorch dynamic int8, \(runs) pairs: ratios \(listed), median \(String(format: "%.2f", pairRatios[pairRatios.count / 2]))\n"
                .utf8))
    results.append(
        Measurement(
            name: int8Name + ", in turn", unit: "images/s", ours: pairedOurs,
            baselineName: "PyTorch dynamic int8 (quantize_dynamic on nn.Linear, fbgemm), 2 threads, in turn",
            baseline: pairedPeer))
    results.append(
        Measurement(
            name: int8Name, unit: "images/s", ours: oursInt8, baselineName: "PyTorch (transformers) fp32, 2 threads",
            baseline: rates("images_fp32")))
    results.append(
        Measurement(
            name: int8Name, unit: "images/s", ours: oursInt8, baselineName: "Winnow fp32, same run",
            baseline: ours))
    // Captions of 75 tokens (no saving from stopping at the end token), and of 12 (a typical alt text).
    for length in [75, 12] {
        let texts: [[Int32]] = (0..<batch).map { _ in
            [49406] + (0..<length).map { _ in Int32(rng.next() % 49406) } + [49407]
                + Array(repeating: 49407, count: 75 - length)
        }
        let oursText = measure(runs: runs, units: Double(batch)) { _ = encoder.model.encodeTexts(texts) }
        let oursText8 = measure(runs: runs, units: Double(batch)) { _ = int8Model.encodeTexts(texts) }
        var peer = rates("texts_fp32")
        var peer8 = rates("texts_int8")
        if length != 75 {
            let (s2, o2) = try output(
                of: python,
                [
                    script, "time", model, "--runs", String(runs), "--batch", String(batch), "--tokens", String(length),
                    "--texts-only", "--int8",
                ])
            guard s2 == 0 else { throw WinnowError(.io, "embed: the PyTorch text run failed") }
            peer = peerRates(o2, "texts_fp32")
            peer8 = peerRates(o2, "texts_int8")
        }
        results.append(
            Measurement(
                name: "CLIP ViT-B/32 text tower, \(length) tokens padded to 77, batch 16, fp32 (2 cores)",
                unit: "captions/s", ours: oursText,
                baselineName: "PyTorch (transformers), 2 threads", baseline: peer))
        let text8 = "CLIP ViT-B/32 text tower, \(length) tokens padded to 77, batch 16, int8 linear layers (2 cores)"
        results.append(
            Measurement(
                name: text8, unit: "captions/s", ours: oursText8,
                baselineName: "PyTorch dynamic int8 (quantize_dynamic, fbgemm), 2 threads", baseline: peer8))
        results.append(
            Measurement(
                name: text8, unit: "captions/s", ours: oursText8, baselineName: "Winnow fp32, same run",
                baseline: oursText))
    }
}

// 8. Perceptual near-duplicate search: 10M random 256-bit hashes (PDQ's size) in the multi-index-hashing index, and
//    queries at radius 31 (PDQ's recommended threshold), half of them near a stored hash (10-31 bits away) and half
//    random; beside a full scan of the same hashes (POPCNT), the only exact alternative.
if wanted("pdq-index") {
    let n = 10_000_000
    var rng = SplitMix64(seed: 11)
    var hashes = [Hash256]()
    hashes.reserveCapacity(n)
    for _ in 0..<n { hashes.append(Hash256(rng.next(), rng.next(), rng.next(), rng.next())) }
    let buildStart = DispatchTime.now().uptimeNanoseconds
    var index = HammingIndex()
    index.insert(contentsOf: hashes)
    let buildSeconds = Double(DispatchTime.now().uptimeNanoseconds - buildStart) / 1e9
    func near(_ h: Hash256, _ bits: Int) -> Hash256 {
        var w = [h.a, h.b, h.c, h.d]
        var flipped = Set<Int>()
        while flipped.count < bits { flipped.insert(Int(rng.next() % 256)) }
        for b in flipped { w[b / 64] ^= 1 << UInt64(b % 64) }
        return Hash256(w[0], w[1], w[2], w[3])
    }
    let queries = (0..<1000).map { i in
        i % 2 == 0
            ? near(hashes[Int(rng.next() % UInt64(n))], 10 + Int(rng.next() % 22))
            : Hash256(rng.next(), rng.next(), rng.next(), rng.next())
    }
    var latencies: [Double] = []
    var hits = 0
    for q in queries {
        let t0 = DispatchTime.now().uptimeNanoseconds
        if index.nearest(q, radius: 31) != nil { hits += 1 }
        latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }
    var scanLatencies: [Double] = []
    var scanHits = 0
    for q in queries.prefix(20) {
        let t0 = DispatchTime.now().uptimeNanoseconds
        let words = [q.a, q.b, q.c, q.d]
        let best = hashes.withUnsafeBytes { all in
            words.withUnsafeBufferPointer { query in
                HammingKernels.nearest(
                    hashes: all.baseAddress!.assumingMemoryBound(to: UInt64.self), range: 0..<n,
                    query: query.baseAddress!)
            }
        }
        if let best, best.distance <= 31 { scanHits += 1 }
        scanLatencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
    }
    let indexHits20 = queries.prefix(20).filter { index.nearest($0, radius: 31) != nil }.count
    guard indexHits20 == scanHits else { throw WinnowError(.io, "pdq-index: the index and the scan disagree") }
    let sorted = latencies.sorted()
    FileHandle.standardError.write(
        Data(
            String(
                format:
                    "pdq-index: %d hashes, built in %.1f s, %.1f bytes a hash; query at radius 31: median %.3f ms, p99 %.3f ms, %d of %d found; full scan median %.1f ms\n",
                n, buildSeconds, Double(index.memoryBytes) / Double(n), median(latencies),
                sorted[sorted.count * 99 / 100], hits, queries.count, median(scanLatencies)
            ).utf8))
    results.append(
        Measurement(
            name: "PDQ near-duplicate query, radius 31, 10M hashes (1 core)", unit: "queries/s",
            ours: [1000 / median(latencies)], baselineName: "full scan of the same hashes (POPCNT, 1 core)",
            baseline: [1000 / median(scanLatencies)]))
}

// 9. Near-duplicate precision and recall: scripts/near_dup_bench.py (in .venv-bench-dedup) makes 57 bases from
//    scikit-image's photographs and 21 transformations of each, hashes them with `winnow hash` (this build) and with
//    imagededup's pHash, and prints precision / recall per transformation. Not a speed: printed as its table.
if wanted("near-dup") {
    let python = packageRoot + "/.venv-bench-dedup/bin/python"
    guard FileManager.default.isExecutableFile(atPath: python) else {
        throw WinnowError(.io, "near-dup: .venv-bench-dedup is missing: run `make bench` (scripts/bench-setup.sh)")
    }
    let winnowBinary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/winnow"
    let (status, out) = try output(
        of: python, [packageRoot + "/scripts/near_dup_bench.py", "--winnow", winnowBinary, "--out", work + "/near-dup"])
    guard status == 0 else { throw WinnowError(.io, "near-dup: scripts/near_dup_bench.py failed (exit \(status))") }
    print(out)
}

// 10. Semantic dedup at scale: SemDeDup over 1M synthetic unit vectors of 512 (CLIP ViT-B/32's width), 100k of them
//     planted near-copies (cosine about 0.99) of others; 1,000 clusters trained on 200k, 20 iterations, both
//     cores. Baseline: the same matrix-product FLOPs at the sgemm rate OpenBLAS reaches here (its physical limit).
if wanted("semdedup") {
    let n = 1_000_000
    let planted = 100_000
    let d = 512
    var rng = SplitMix64(seed: 5)
    func gaussian() -> Float {
        var s: Float = 0
        for _ in 0..<4 { s += Float(rng.next() % 65_536) / 65_536 }
        return (s - 2) * 1.7
    }
    var rows = [Float](repeating: 0, count: n * d)
    var sources = [Int](repeating: 0, count: planted)
    rows.withUnsafeMutableBufferPointer { p in
        for i in 0..<n {
            let row = p.baseAddress! + i * d
            if i >= n - planted {
                let from = Int(rng.next() % UInt64(n - planted))
                sources[i - (n - planted)] = from
                let source = p.baseAddress! + from * d
                for j in 0..<d { row[j] = source[j] + gaussian() * 0.006 }
            } else {
                for j in 0..<d { row[j] = gaussian() }
            }
            Kernels.normalize(row, count: d)
        }
    }
    let settings = SemanticDedup(epsilon: 0.05, clusters: 1000, iterations: 20, trainingSample: 200_000)
    var outcomes: [SemanticDedup.Outcome] = []
    let t0 = DispatchTime.now().uptimeNanoseconds
    outcomes = settings.run(rows, count: n, dimension: d)
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
    // A planted pair is found when one of the two is a duplicate of the other (either may be the one kept).
    var inPair = Set<Int>()
    var found = 0
    for (k, from) in sources.enumerated() {
        let copy = n - planted + k
        inPair.insert(copy)
        inPair.insert(from)
        if outcomes[copy].duplicateOf == from || outcomes[from].duplicateOf == copy { found += 1 }
    }
    let falsePositives = outcomes.indices.filter { outcomes[$0].duplicateOf != nil && !inPair.contains($0) }.count
    var sizes = [Int](repeating: 0, count: 1000)
    for o in outcomes { sizes[o.cluster] += 1 }
    let flops =
        2 * Double(d) * (200_000 * 1000 * 20 + Double(n) * 1000 + sizes.reduce(0) { $0 + Double($1) * Double($1) })
    let a = [Float](repeating: 0.01, count: 4096 * d)
    let b = [Float](repeating: 0.01, count: 1000 * d)
    var c = [Float](repeating: 0, count: 4096 * 1000)
    let rate = measure(runs: 5, units: 2 * 4096 * 1000 * Double(d)) {
        c.withUnsafeMutableBufferPointer {
            BLAS.sgemm(transB: true, m: 4096, n: 1000, k: d, a: a, lda: d, b: b, ldb: d, c: $0.baseAddress!, ldc: 1000)
        }
    }
    FileHandle.standardError.write(
        Data(
            String(
                format:
                    "semdedup: %d embeddings x %d in %.1f s; %d of %d planted pairs found, %d samples outside them flagged; %.2f TFLOP of products at %.0f GFLOP/s = %.1f s\n",
                n, d, seconds, found, planted, falsePositives, flops / 1e12, median(rate) / 1e9, flops / median(rate)
            ).utf8))
    results.append(
        Measurement(
            name: "SemDeDup, 1M x 512 embeddings, 1,000 clusters (2 cores)", unit: "embeddings/s",
            ours: [Double(n) / seconds],
            baselineName: "its matrix products at OpenBLAS's sgemm rate", baseline: [Double(n) / (flops / median(rate))]
        ))
}

if wanted("optout-lookup") {
    // A registry the size of the largest hash lists: 9M image hashes (MD5, as hotlines supply them), 500k URLs and
    // 500k domains, filed through the registry's own code; then the matcher runs and `optout apply` use.
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-bench-registry-\(getpid())")
    defer { try? FileManager.default.removeItem(at: dir) }
    let registry = try Registry(path: dir.appendingPathComponent("optout.sqlite").path, create: true)
    var rng = SplitMix64(seed: 21)
    func hex(_ words: Int) -> String { (0..<words).map { _ in String(format: "%016llx", rng.next()) }.joined() }
    let hashes = (0..<9_000_000).map { _ in hex(2) }
    let urls = (0..<500_000).map { i in "https://site\(i % 50_000).example/images/\(hex(1)).jpg" }
    let domains = (0..<500_000).map { i in "blocked\(i).example.org" }
    var entries = hashes.map { OptOutEntry(kind: .md5, value: $0) }
    entries += urls.map { OptOutEntry(kind: .url, value: $0) }
    entries += domains.map { OptOutEntry(kind: .domain, value: $0) }
    let n = entries.count
    let fileStart = DispatchTime.now().uptimeNanoseconds
    _ = try registry.file(requester: "bench", reason: "bench", subject: "bench", entries: entries)
    let fileSeconds = Double(DispatchTime.now().uptimeNanoseconds - fileStart) / 1e9
    entries = []
    let loadStart = DispatchTime.now().uptimeNanoseconds
    let matcher = try registry.matcher()
    let loadSeconds = Double(DispatchTime.now().uptimeNanoseconds - loadStart) / 1e9
    // Queries: 1 in 100 is filed; the rest are new. URL queries go through normalisation, the URL, every parent
    // domain of the host and the prefix table, as a run's candidates do.
    let q = 1_000_000
    let hashQueries = (0..<q).map { i in i % 100 == 0 ? hashes[Int(rng.next() % UInt64(hashes.count))] : hex(2) }
    let urlQueries = (0..<q).map { i in
        i % 100 == 0
            ? urls[Int(rng.next() % UInt64(urls.count))]
            : "https://cdn\(i % 7).site\(rng.next() % 100_000).example/p/\(hex(1)).jpg"
    }
    var hashHits = 0
    var urlHits = 0
    let hashRate = measure(runs: runs, units: Double(q)) {
        hashHits = 0
        for h in hashQueries where matcher.match(md5: h, sha1: nil, sha256: nil) != nil { hashHits += 1 }
    }
    let urlRate = measure(runs: runs, units: Double(q)) {
        urlHits = 0
        for u in urlQueries where matcher.match(url: u) != nil { urlHits += 1 }
    }
    // The baseline: the same questions asked of SQLite through its index, one point query each (a URL asks for the
    // URL and each parent domain of its host), 100k of them.
    let db = try Connection(path: registry.path, readOnly: true)
    let stmt = try db.prepare("SELECT request_id FROM entries WHERE fingerprint = ?1 AND kind = ?2 AND value = ?3")
    func sqlHas(_ kind: EntryKind, _ value: String) throws -> Bool {
        try stmt.bind([Int64(bitPattern: kind.fingerprint(value)), kind.rawValue, value])
        return try stmt.step() != nil
    }
    let b = 100_000
    var sqlHashHits = 0
    let sqlHashRate = try measure(runs: runs, units: Double(b)) {
        sqlHashHits = 0
        for h in hashQueries.prefix(b) where try sqlHas(.md5, h) { sqlHashHits += 1 }
    }
    let sqlURLRate = try measure(runs: runs, units: Double(b)) {
        for u in urlQueries.prefix(b) {
            guard let norm = OptOutURL.normalize(u), let host = OptOutURL.hostOfNormalized(norm) else { continue }
            if try sqlHas(.url, norm) { continue }
            var d = Substring(host)
            while true {
                if try sqlHas(.domain, String(d)) { break }
                guard let dot = d.firstIndex(of: ".") else { break }
                d = d[d.index(after: dot)...]
            }
        }
    }
    let expectedHashHits = hashQueries.prefix(b).enumerated().filter { $0.offset % 100 == 0 }.count
    guard sqlHashHits == expectedHashHits, hashHits >= q / 100, urlHits >= q / 100 else {
        throw WinnowError(.io, "optout-lookup: hits disagree (\(hashHits), \(urlHits), \(sqlHashHits))")
    }
    FileHandle.standardError.write(
        Data(
            String(
                format:
                    "optout-lookup: %d entries filed in %.1f s (%.0f/s), loaded in %.1f s; %d of %d hash and %d of %d URL queries hit\n",
                n, fileSeconds, Double(n) / fileSeconds, loadSeconds, hashHits, q, urlHits, q
            ).utf8))
    results.append(
        Measurement(
            name: "opt-out registry, image hash lookups, 10M entries (1 core)", unit: "lookups/s", ours: hashRate,
            baselineName: "SQLite indexed point query on the same registry", baseline: sqlHashRate))
    results.append(
        Measurement(
            name: "opt-out registry, URL lookups (URL, domains, prefixes), 10M entries (1 core)", unit: "lookups/s",
            ours: urlRate, baselineName: "SQLite indexed point queries (URL, each parent domain)", baseline: sqlURLRate
        ))
}

if wanted("knn") {
    // 1M x 512 unit-length float16 embeddings (1 GiB), as a run's img_emb files hold them; an exact top-10 scan.
    let n = 1_000_000
    let d = 512
    var rng = SplitMix64(seed: 31)
    var matrix = EmbeddingMatrix(dimension: d, half: true)
    matrix.reserve(rows: n)
    var row = [Float](repeating: 0, count: d)
    for _ in 0..<n {
        var norm: Float = 0
        for j in 0..<d {
            row[j] = Float(Int64(bitPattern: rng.next() >> 11) - (1 << 52)) / Float(1 << 52)
            norm += row[j] * row[j]
        }
        let scale = 1 / norm.squareRoot()
        for j in 0..<d { row[j] *= scale }
        matrix.append(row)
    }
    let query = (0..<d).map { _ in Float(Int64(bitPattern: rng.next() >> 11) - (1 << 52)) / Float(1 << 52) }
    var checksum: UInt64 = 0
    let threads = ProcessInfo.processInfo.activeProcessorCount
    let scan = measure(runs: max(runs, 5), units: 1) { _ = matrix.nearest(query, k: 10, threads: threads) }
    let read = measure(runs: max(runs, 5), units: 1) { checksum = matrix.readAll(threads: threads) }
    FileHandle.standardError.write(
        Data(
            String(
                format:
                    "knn: %d x %d float16, F16C %@: scan median %.1f ms (goal 100 ms), read median %.1f ms (%llu)\n",
                n, d, EmbeddingMatrix.usesF16C ? "yes" : "no", 1000 / median(scan), 1000 / median(read), checksum
            ).utf8))
    results.append(
        Measurement(
            name: "exact k-NN (top 10), 1M x 512 float16 embeddings (\(threads) cores)", unit: "queries/s", ours: scan,
            baselineName: "reading the same 1 GiB once (memory-speed limit)", baseline: read))
}

// Resumability's cost: scripts/bench_resume.sh builds the commit before resumable runs (241c20b: no input-order
// writer, no per-shard commits, no write-ahead log) beside this tree, and runs the fetch benchmark's `winnow run`
// (5,000 URLs on nginx) with each, alternating, `runs` pairs. Only when named (it builds a second tree).
if filterList.contains("resume") {
    let (status, out) = try output(of: "/bin/bash", [packageRoot + "/scripts/bench_resume.sh", String(max(3, runs))])
    FileHandle.standardError.write(Data(out.utf8))
    var base: [Double] = []
    var new: [Double] = []
    for line in out.split(separator: "\n") where line.hasPrefix("pair ") {
        let numbers = line.split(separator: " ").compactMap { Double($0) }
        guard numbers.count >= 4 else { continue }  // base images/s, cpu s, new images/s, cpu s
        base.append(numbers[0])
        new.append(numbers[2])
    }
    guard status == 0, !new.isEmpty else { throw WinnowError(.io, "scripts/bench_resume.sh failed (exit \(status))") }
    results.append(
        Measurement(
            name: "fetch + 256px crop into shards, resumable (5,000 URLs, nginx, 2 cores)", unit: "images/s",
            ours: new, baselineName: "the same run before resumable runs (241c20b)", baseline: base))
}

// The dataset report of a 10M-row index (issue 26): `winnow report` (its queries, the domain roll-up, every file
// written) beside the same figures' GROUP BY queries in the sqlite3 shell (scripts/report_baseline.sql), in turn, on a
// synthetic index made once by the generator below (.build/bench-data/report-N; REPORT_ROWS sets N, default 10M).
// The report's peak RSS is printed (/usr/bin/time).
if wanted("report-10m") {
    let rows = Int(ProcessInfo.processInfo.environment["REPORT_ROWS"] ?? "") ?? 10_000_000
    let dir = packageRoot + "/.build/bench-data/report-\(rows)"
    let indexPath = dir + "/index.sqlite"
    if !FileManager.default.fileExists(atPath: indexPath) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let started = DispatchTime.now().uptimeNanoseconds
        let partial = indexPath + ".partial"
        try? FileManager.default.removeItem(atPath: partial)
        let db = try ShardIndex(path: partial).db
        // Indexes are built after the rows (the same final index, made faster).
        let indexes = try db.query("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
        for i in indexes { try db.execute("DROP INDEX \(i.string("name") ?? "")") }
        try db.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF")
        // 100,000 hosts (a third under a cdn. subdomain), 60 % kept, four drop reasons, duplicates of kept rows,
        // sizes, captions of 10-129 characters, similarities, a few page and image signals.
        try db.execute(
            """
            WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < \(rows - 1))
            INSERT INTO samples (key, status, reason, url, caption, page_url, input_file, record_offset, page_date,
                                 opt_out_signals, http_status, content_type, original_format, original_width,
                                 original_height, original_bytes, stored_width, stored_height, stored_bytes, stored_ext,
                                 sha256, duplicate_of, shard, similarity, c2pa)
            SELECT printf('%016x', i), CASE WHEN i % 10 < 6 THEN 'kept' ELSE 'dropped' END,
                   CASE i % 10 WHEN 6 THEN 'robots_txt' WHEN 7 THEN 'http_404' WHEN 8 THEN 'low_similarity'
                               WHEN 9 THEN 'duplicate_sha256' END,
                   'https://' || CASE WHEN i % 3 = 0 THEN 'cdn.' ELSE '' END || 'site' || ((i * 2654435761) % 100000)
                       || '.example/img/' || i || '.jpg',
                   substr('a photograph of a red bicycle leaning against a blue wall in the afternoon sun, with long shadows across an empty cobbled street', 1, 10 + i % 120),
                   'https://site' || ((i * 2654435761) % 100000) || '.example/page', 'CC-MAIN-2024-10/wat/part-' || (i / 1000000),
                   i, '2024-02-' || printf('%02d', 1 + i % 28) || 'T00:00:00Z',
                   CASE WHEN i % 1000 = 0 THEN 'meta-robots:noai' END, CASE WHEN i % 10 = 7 THEN 404 ELSE 200 END,
                   CASE WHEN i % 4 = 0 THEN 'image/png' ELSE 'image/jpeg' END, CASE WHEN i % 4 = 0 THEN 'png' ELSE 'jpeg' END,
                   100 + (i * 7919) % 3000, 100 + (i * 104729) % 2000, CASE WHEN i % 10 IN (6, 7) THEN NULL ELSE 5000 + (i * 31) % 200000 END,
                   CASE WHEN i % 10 < 6 THEN 256 END, CASE WHEN i % 10 < 6 THEN 256 END,
                   CASE WHEN i % 10 < 6 THEN 3000 + (i * 17) % 30000 END, CASE WHEN i % 10 < 6 THEN 'jpg' END,
                   printf('%064x', i), CASE WHEN i % 10 = 9 THEN printf('%016x', i - 9) END,
                   CASE WHEN i % 10 < 6 THEN printf('%05d.tar', i / 10000) END,
                   CASE WHEN i % 10 IN (6, 7) THEN NULL ELSE ((i * 37) % 1000) / 1000.0 * 0.6 - 0.1 END,
                   CASE WHEN i % 10 IN (6, 7) THEN NULL ELSE i % 500 = 0 END
            FROM c
            """)
        try db.execute(
            """
            WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < \((rows + 9_999) / 10_000 - 1))
            INSERT INTO shards (name, samples, bytes, sha256) SELECT printf('%05d.tar', i), 6000, 100000000, printf('%064x', i) FROM c
            """)
        for (name, value) in [
            ("inputs", "crawl-data/CC-MAIN-2024-10/segments/0/wat/part-0.warc.wat.gz"),
            ("started", "2026-12-01T00:00:00Z"),
            ("finished", "2026-12-03T00:00:00Z"), ("min_similarity", "0.28"),
        ] {
            try db.run("INSERT INTO run (name, value) VALUES (?1, ?2)", [name, value])
        }
        for i in indexes { try db.execute(i.string("sql") ?? "") }
        db.close()
        try FileManager.default.moveItem(atPath: partial, toPath: indexPath)
        FileHandle.standardError.write(
            Data(
                "report-10m: generated \(rows) rows in \(Int(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9)) s\n"
                    .utf8))
    }
    let winnow = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path + "/winnow"
    let timeFile = dir + "-report.time"
    var peakKB: [Int] = []
    let timed = try measureInTurn(
        runs: runs, units: Double(rows),
        [
            {
                let (status, _) = try output(
                    of: "/usr/bin/time",
                    ["-f", "%M", "-o", timeFile, winnow, "report", dir, "--output", dir + "-report"])
                if status != 0 { throw WinnowError(.io, "report-10m: winnow report failed") }
                peakKB.append(
                    Int(
                        (try String(contentsOfFile: timeFile, encoding: .utf8)).trimmingCharacters(
                            in: .whitespacesAndNewlines)) ?? 0)
            },
            {
                let (status, _) = try output(
                    of: "/bin/sh",
                    ["-c", "sqlite3 '\(indexPath)' < '\(packageRoot)/scripts/report_baseline.sql' > /dev/null"])
                if status != 0 { throw WinnowError(.io, "report-10m: sqlite3 failed") }
            },
        ])
    FileHandle.standardError.write(
        Data(
            "report-10m: \(rows) rows, report \(String(format: "%.1f", Double(rows) / median(timed[0]))) s (median), sqlite3 \(String(format: "%.1f", Double(rows) / median(timed[1]))) s; report peak RSS \(peakKB.max() ?? 0) KB\n"
                .utf8))
    results.append(
        Measurement(
            name: "winnow report, \(Words.grouped(rows))-row index (2 cores)", unit: "rows/s", ours: timed[0],
            baselineName: "the same GROUP BY queries in the sqlite3 shell", baseline: timed[1]))
}

// robots.txt decisions on a hostile file (issue 29): 2,000 rules `/*aaaa...(236)...b<k>` for the 12 default tokens,
// 508 KB, against a 1,960-byte path. Baseline: the backtracking matcher Winnow used before (kept below), on the same
// file, path and tokens, with each group evaluated once (the old code evaluated it once per token: 12 times that).
if wanted("robots-hostile") {
    let tokens = FetchSettings().robotsTokens
    var text = tokens.map { "User-agent: \($0)\n" }.joined()
    for k in 0..<2_000 { text += "Disallow: /*" + String(repeating: "a", count: 236) + "b\(k)\n" }
    let parseStart = DispatchTime.now().uptimeNanoseconds
    let robots = RobotsTxt(parsing: Array(text.utf8))
    let parseMs = Double(DispatchTime.now().uptimeNanoseconds - parseStart) / 1e6
    let paths = [
        ("no rule's last letter in the path", "/" + String(repeating: "a", count: 1_958) + "c"),
        (
            "every rule's piece searched for",
            "/" + String(repeating: String(repeating: "a", count: 235) + "b", count: 8)
                + "0123456789" + String(repeating: "a", count: 60)
        ),
    ]
    let patterns = (robots.groups["winnowbot"] ?? []).map(\.pattern)
    for (label, path) in paths {
        var allowed = 0
        let ours = measure(runs: runs, units: 1_000) {
            for _ in 0..<1_000 where robots.decision(path: path, tokens: tokens).allowed { allowed += 1 }
        }
        let old = measure(runs: max(1, runs / 2), units: 1) {
            if !patterns.contains(where: { backtrackingMatches(pattern: $0, path: path) }) { allowed += 1 }
        }
        FileHandle.standardError.write(
            Data(
                String(
                    format:
                        "robots-hostile (%@): %.1f us a decision (goal < 1,000 us), old matcher %.0f ms; parse %.1f ms; %d\n",
                    label, 1e6 / median(ours), 1e3 / median(old), parseMs, allowed
                ).utf8))
        results.append(
            Measurement(
                name: "robots.txt decision, hostile 508 KB file, 1,960-byte path (\(label), 1 core)",
                unit: "decisions/s", ours: ours,
                baselineName: "backtracking matcher before issue 29 (one pass per group)", baseline: old))
    }
}

print("| benchmark | winnow (median, min-max) | baseline | baseline (median, min-max) | ratio |")
print("|---|---|---|---|---|")
for m in results {
    func fmt(_ xs: [Double]) -> String {
        String(format: "%.1f %@ (%.1f-%.1f)", median(xs), m.unit, xs.min() ?? 0, xs.max() ?? 0)
    }
    print(
        "| \(m.name) | \(fmt(m.ours)) | \(m.baselineName) | \(fmt(m.baseline)) | \(String(format: "%.2fx", median(m.ours) / median(m.baseline))) |"
    )
}

/// Writes a WAT of at least `targetBytes` by replicating the real Common Crawl samples, with every URL's host
/// varied per copy (`://` becomes `://cN-`), each record its own gzip member as Common Crawl writes them.
func buildReplicatedWAT(path: String, targetBytes: Int64) throws {
    let fixtures = packageRoot + "/../shared/fixtures/commoncrawl/wat"
    let names = try FileManager.default.contentsOfDirectory(atPath: fixtures).filter {
        $0.hasPrefix("generated_") || $0.hasPrefix("pycommoncrawl-file1.crlf")
    }.sorted()
    var records: [WARCRecord] = []
    for n in names {
        let r = try WARCReader(path: fixtures + "/" + n)
        while let rec = try r.next() { if rec.type != "warcinfo" { records.append(rec) } }
    }
    let w = try WARCWriter(path: path)
    var copy = 0
    let marker = Array("://".utf8)
    while w.offset < targetBytes {
        let replacement = Array("://c\(copy)-".utf8)
        for rec in records {
            var block: [UInt8] = []
            block.reserveCapacity(rec.block.count + 1024)
            var i = 0
            let b = rec.block
            while i < b.count {
                if b[i] == 0x3a && i + 2 < b.count && b[i + 1] == 0x2f && b[i + 2] == 0x2f {
                    block.append(contentsOf: replacement)
                    i += marker.count
                } else {
                    block.append(b[i])
                    i += 1
                }
            }
            try w.write(headers: rec.headers.filter { $0.0.lowercased() != "content-length" }, block: block)
        }
        copy += 1
    }
    try w.close()
}

/// The robots.txt wildcard matcher Winnow used before issue 29 (backtracking on the last `*`): the baseline of
/// `robots-hostile`.
func backtrackingMatches(pattern: String, path: String) -> Bool {
    var p = Array(pattern.utf8)
    let s = Array(path.utf8)
    var anchored = false
    if p.last == UInt8(ascii: "$") {
        anchored = true
        p.removeLast()
    }
    var i = 0
    var j = 0
    var star = -1
    var mark = 0
    while j < s.count || i < p.count {
        if i < p.count && p[i] == UInt8(ascii: "*") {
            star = i
            mark = j
            i += 1
            continue
        }
        if i == p.count {
            if !anchored { return true }
            if j == s.count { return true }
        } else if j < s.count && p[i] == s[j] {
            i += 1
            j += 1
            continue
        }
        if star >= 0 && mark < s.count {
            mark += 1
            j = mark
            i = star + 1
            continue
        }
        return false
    }
    return true
}
