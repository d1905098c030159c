import Foundation
import WinnowCore
import WinnowSampleWeb

/// Paths and helpers shared by the test suites.
public enum TestSupport {
    /// The package root (the folder holding Package.swift).
    public static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
                return url.path
            }
        }
        return FileManager.default.currentDirectoryPath
    }()

    /// `../shared/fixtures` beside the package (CI has it there too).
    public static var sharedFixtures: String { (packageRoot as NSString).appendingPathComponent("../shared/fixtures") }

    /// A real Common Crawl fixture file, e.g. `commoncrawl/wat/whirlwind-2024-22.warc.wat.gz`.
    public static func shared(_ relative: String) -> String {
        (sharedFixtures as NSString).appendingPathComponent(relative)
    }

    /// The built `winnow` binary (built by `swift build --build-tests`).
    public static var winnowBinary: String { (packageRoot as NSString).appendingPathComponent(".build/debug/winnow") }

    /// A fresh empty temporary directory.
    public static func temporaryDirectory(_ name: String = "winnow-test") -> String {
        let path = (NSTemporaryDirectory() as NSString).appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))")
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// A small sample web generated into a fresh directory.
    public static func sampleWeb(pages: Int = 8, seed: UInt64 = 1) throws -> (dir: String, manifest: SampleWeb.Manifest)
    {
        let dir = temporaryDirectory("sample-web")
        let m = try SampleWeb.generate(output: dir, pages: pages, seed: seed)
        return (dir, m)
    }

    /// Runs a program; returns its exit status, stdout and stderr. `environment` is added to this process's; the
    /// default opt-out registry is pointed at a path that does not exist, so that a developer's own registry never
    /// changes what a test run keeps.
    public static func run(
        _ executable: String, _ arguments: [String], cwd: String? = nil, environment: [String: String] = [:]
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["WINNOW_OPTOUT_REGISTRY"] = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "winnow-no-registry-\(getpid()).sqlite")
        for (k, v) in environment { env[k] = v }
        p.environment = env
        if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        // Read both pipes while the process runs, so a full pipe never blocks it.
        let outData = Mutexed<Data>(Data())
        let reader = Thread { outData.set(out.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while !outData.isSet { usleep(1000) }
        return (
            p.terminationStatus, String(decoding: outData.get(), as: UTF8.self),
            String(decoding: errData, as: UTF8.self)
        )
    }
}

/// A value set once by another thread.
final class Mutexed<T: Sendable>: @unchecked Sendable {
    // @unchecked Sendable: `value` and `isSet` are only touched under `lock`.
    private let lock = NSLock()
    private var value: T
    private var done = false

    init(_ v: T) { value = v }

    func set(_ v: T) {
        lock.withLock {
            value = v
            done = true
        }
    }

    var isSet: Bool { lock.withLock { done } }

    func get() -> T { lock.withLock { value } }
}
