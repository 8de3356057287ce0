import CFuzzer
import Foundation
import Study

// Property: every configuration JSON the decoder accepts is valid, and its own JSON
// (config.json as a study writes it) decodes to the same configuration.
@_cdecl("LLVMFuzzerTestOneInput")
func fuzzConfiguration(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Data(bytes: data, count: size)
    guard let c = try? StudyConfiguration.decode(json: bytes, source: "<fuzz>") else { return 0 }
    do { try c.validate() } catch { preconditionFailure("an accepted configuration does not validate: \(error)") }
    let again = try? StudyConfiguration.decode(json: try! c.jsonData(), source: "<fuzz>")
    precondition(again == c, "the configuration's own JSON decodes differently")
    return 0
}

var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzConfiguration(data, size) })
