import Foundation
import WinnowCore
import WinnowShards

enum GetCommand {
    static let command = WinnowCLI.Command(
        name: "get", summary: "extract a kept sample's files from its shard",
        about: """
            Usage: winnow get DIR KEY --output FILE [--ext jpg|png|txt|json]

            Reads the sample's bytes by offset from its tar shard and writes them to FILE: the image by default,
            or the member with the given extension. '--output -' writes to stdout.
            """,
        options: [
            .value("output", "FILE", "where to write the member (required); - for stdout"),
            .value("ext", "EXT", "the member to write: jpg, png, webp, txt or json (default: the image)"),
        ],
        run: run)

    static func run(_ args: [String]) throws {
        let a = try Arguments(args, command: "get", options: command.options)
        let p = try a.positionals(["DIR", "KEY"], command: "get")
        guard let output = a.value("output") else { throw UsageError("winnow get: --output FILE is required") }
        let files = try IndexReader(directory: p[0]).files(key: p[1])
        let ext = a.value("ext")
        let imageExts: Set<String> = ["jpg", "png", "webp"]
        guard
            let file = files.first(where: { f in
                let e = (f.name as NSString).pathExtension
                return ext.map { e == $0 } ?? imageExts.contains(e)
            })
        else {
            throw WinnowError(
                .usage, "\(p[1]): no .\(ext ?? "image") member (has \(files.map(\.name).joined(separator: ", ")))")
        }
        if output == "-" {
            FileHandle.standardOutput.write(Data(file.bytes))
        } else {
            do {
                try Data(file.bytes).write(to: URL(fileURLWithPath: output), options: .atomic)
            } catch {
                throw WinnowError(.io, "\(output): cannot write: \(SystemError.reason(error))")
            }
            WinnowCLI.note("wrote \(file.name) (\(file.bytes.count) bytes) to \(output)")
        }
    }
}
