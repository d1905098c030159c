// libFuzzer target for WinnowImage's C2PA reader (`make fuzz`): JPEG APP11 reassembly, JUMBF boxes, CBOR and the
// training-mining assertion. A JPEG input (FF D8) has its APP11 segments reassembled and every box read as a
// manifest store; any other input is read as a whole store, as a store's contents (JPEG XL) and as one CBOR item.
// An error is fine; a crash, a sanitizer report or an allocation past -malloc_limit_mb is a finding. Built with
// swiftc -sanitize=fuzzer,address together with Sources/WinnowImage/C2PA/*.swift.
import Foundation

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let b = UnsafeBufferPointer(start: data, count: size)
    if size >= 2 && b[0] == 0xff && b[1] == 0xd8 {
        var assembler = JPEGJUMBFAssembler()
        var i = 2
        while i + 4 <= size, b[i] == 0xff, b[i + 1] != 0xda, b[i + 1] != 0xd9 {
            let length = Int(b[i + 2]) << 8 | Int(b[i + 3])
            guard length >= 2, i + 2 + length <= size else { break }
            if b[i + 1] == 0xeb { assembler.add(UnsafeBufferPointer(rebasing: b[(i + 4)..<(i + 2 + length)])) }
            i += 2 + length
        }
        for box in assembler.boxes() {
            _ = box.withUnsafeBufferPointer { try? C2PATrainingMining.read(store: $0) }?.map {
                $0.denial(purpose: "train-ai")
            }
        }
        return 0
    }
    _ = (try? C2PATrainingMining.read(store: b))?.map { $0.denial(purpose: "ai-use") }
    _ = try? C2PATrainingMining.read(storeContents: b)
    _ = try? CBOR.decode(b)
    return 0
}
