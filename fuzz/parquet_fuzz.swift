// libFuzzer target for WinnowParquet's reader (`make fuzz`): footer (Thrift compact protocol), schema, page
// headers, definition levels, dictionary indices, every encoding and codec. Each input is written to a file in
// /dev/shm and read as Winnow reads an input: every row group, every column it can read. An error is fine; a
// crash, a sanitizer report or an allocation past -malloc_limit_mb is a finding. Built with swiftc
// -sanitize=fuzzer,address together with Sources/WinnowParquet/*.swift.
import Foundation

private let path = "/dev/shm/winnow-parquet-fuzz-\(getpid()).parquet"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return 0 }
    _ = write(fd, data, size)
    close(fd)
    guard let file = try? ParquetFile(path: path) else { return 0 }
    let columns = file.columns.filter { $0.unsupported == nil }
    for g in 0..<file.rowGroupRows.count {
        for c in columns {
            guard let chunks = try? file.read(rowGroup: g, columns: [c]) else { continue }
            // Touch every value, as the candidate reader does.
            for chunk in chunks {
                if case .bytes(let b) = chunk.values {
                    for i in 0..<chunk.count where !chunk.isNull(i) { _ = b.string(i) }
                }
            }
        }
    }
    return 0
}
