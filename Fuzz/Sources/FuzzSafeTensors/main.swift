import CFuzzer
import Checkpoints
import Foundation

// Properties: every header the reader accepts lays its tensors end to end from byte 0 and covers
// the data buffer exactly; accepted F32/F64 files round-trip through the writer with the same
// names, shapes, metadata and values.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzSafeTensors(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Data(bytes: data, count: size)
    guard let file = try? SafeTensors.parse(bytes) else { return 0 }
    var end = 0
    for e in file.entries {
        precondition(e.dataOffsets.lowerBound == end, "tensor \(e.name) does not start where the previous one ends")
        precondition(e.byteCount == e.elementCount * e.dtype.byteSize, "tensor \(e.name) has the wrong byte count")
        end = e.dataOffsets.upperBound
    }
    precondition(end == file.bufferByteCount, "the tensors do not cover the buffer exactly")
    precondition(8 + file.headerByteCount + file.bufferByteCount == size, "header and buffer do not make up the file")
    guard file.entries.allSatisfy({ $0.dtype == .f32 || $0.dtype == .f64 }) else { return 0 }
    let tensors = file.entries.map { e -> (name: String, shape: [Int], payload: SafeTensorsPayload) in
        e.dtype == .f32 ? (e.name, e.shape, .f32(try! file.floats(named: e.name))) : (e.name, e.shape, .f64(try! file.doubles(named: e.name)))
    }
    let again = try! SafeTensors.parse(try! SafeTensors.encode(tensors, metadata: file.metadata))
    precondition(again.metadata == file.metadata && again.names == file.names, "round trip changed names or metadata")
    for e in file.entries {
        precondition(try! again.shape(named: e.name) == e.shape, "round trip changed a shape")
        let a = e.dtype == .f32 ? (try! file.floats(named: e.name)).map(\.bitPattern).map(UInt64.init) : (try! file.doubles(named: e.name)).map(\.bitPattern)
        let b = e.dtype == .f32 ? (try! again.floats(named: e.name)).map(\.bitPattern).map(UInt64.init) : (try! again.doubles(named: e.name)).map(\.bitPattern)
        precondition(a == b, "round trip changed the values of \(e.name)")
    }
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzSafeTensors(data, size) })
