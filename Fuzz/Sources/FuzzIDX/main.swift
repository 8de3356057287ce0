import CFuzzer
import Datasets
import Foundation

// Property: every IDX file (raw or gzip) the reader accepts decodes to the tensor that the fully
// decompressed bytes give, and re-encoding it gives those bytes back; every gzip stream the
// decompressor accepts survives a compress/decompress round trip.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzIDX(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limit = 1 << 24
    if Gzip.isGzip(bytes), let raw = try? Gzip.decompress(bytes, path: "<fuzz>", maxOutputBytes: limit) {
        let again = try? Gzip.decompress(Gzip.compress(raw), path: "<fuzz>", maxOutputBytes: limit)
        precondition(again == raw, "gzip round trip changed the data")
    }
    guard let tensor = try? IDX.decode(bytes, path: "<fuzz>") else { return 0 }
    precondition(tensor.shape.reduce(1, *) == tensor.bytes.count, "shape and data disagree")
    let encoded = IDX.encode(tensor)
    let raw = Gzip.isGzip(bytes) ? try? Gzip.decompress(bytes, path: "<fuzz>") : bytes
    precondition(raw == encoded, "the accepted file is not the encoding of its tensor")
    precondition((try? IDX.decode(encoded, path: "<fuzz>")) == tensor, "re-encoded tensor reads back differently")
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzIDX(data, size) })
