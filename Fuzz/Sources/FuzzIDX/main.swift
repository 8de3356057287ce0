import CFuzzer
import Datasets
import Foundation

// Properties: every IDX file (raw or gzip) the reader accepts decodes to the tensor that the fully
// decompressed bytes give, and re-encoding it gives those bytes back; every gzip stream the
// decompressor accepts survives a compress/decompress round trip. Read with a bound of 128 KiB:
// no accepted file holds more, a header that declares more is refused as declaring too much, and
// decoding never makes an allocation larger than the bound (the reader's fixed buffers are 64 KiB).
let bound = IDX.Bound(bytes: 1 << 17, reason: "the fuzz bound")
/// Room for an array's header on top of its elements.
let allocationSlack = 64

@_cdecl("LLVMFuzzerTestOneInput")
func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limit = 1 << 24
    let raw = Gzip.isGzip(bytes) ? try? Gzip.decompress(bytes, path: "<fuzz>", maxOutputBytes: limit) : bytes
    if Gzip.isGzip(bytes), let raw {
        let again = try? Gzip.decompress(Gzip.compress(raw), path: "<fuzz>", maxOutputBytes: limit)
        precondition(again == raw, "gzip round trip changed the data")
    }

    CFuzzerTrackAllocations()
    let result = Result { try IDX.decode(bytes, path: "<fuzz>", bound: bound) }
    let largest = CFuzzerLargestAllocation()
    precondition(largest <= bound.bytes + allocationSlack,
                 "decoding allocated \(largest) bytes at once, more than the \(bound.bytes)-byte bound")

    // What the header declares, read from the whole decompressed file without a bound.
    let unbounded = IDX.Bound(bytes: .max, reason: "none")
    if let raw, let header = try? raw.withUnsafeBytes({ try IDX.parseHeader($0, path: "<fuzz>", bound: unbounded) }),
       header.shape.reduce(1, *) > bound.bytes {
        guard case .failure(let error) = result, case DatasetError.declaredTooLarge = error else {
            preconditionFailure("a header declaring \(header.shape) was not refused as more than the bound: \(result)")
        }
    }

    guard case .success(let tensor) = result else { return 0 }
    precondition(tensor.count <= bound.bytes, "an accepted file holds \(tensor.count) bytes, more than the bound")
    precondition(tensor.shape.reduce(1, *) == tensor.bytes.count, "shape and data disagree")
    let encoded = IDX.encode(tensor)
    precondition(raw == encoded, "the accepted file is not the encoding of its tensor")
    precondition((try? IDX.decode(encoded, path: "<fuzz>", bound: bound)) == tensor, "re-encoded tensor reads back differently")
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzIDX(data, size) })
