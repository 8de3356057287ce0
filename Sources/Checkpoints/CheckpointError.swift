// Errors raised while reading or writing checkpoints.
//
// Source for the format rules checked here: the safetensors format,
// Hugging Face (https://github.com/huggingface/safetensors, README "Format").

/// Every failure of the checkpoint reader and writer.
///
/// Each case carries the file path it concerns (`path`, a file-system path, or
/// `"<memory>"` for buffers parsed with ``SafeTensors/parse(_:path:)``) and its
/// ``description`` names that path and the problem in plain words.
/// Byte counts and offsets are in bytes; offsets are relative to the data buffer
/// that follows the JSON header, as in the safetensors format (Hugging Face).
public enum CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file is shorter than the 8-byte little-endian header-length prefix.
    case fileTooShort(path: String, byteCount: Int)
    /// The header length declared in the first 8 bytes exceeds the bytes that follow it.
    case headerLengthExceedsFile(path: String, declaredHeaderLength: UInt64, availableBytes: Int)
    /// The header bytes are not valid UTF-8 JSON. `detail` is the parser's message.
    case headerNotJSON(path: String, detail: String)
    /// The header is valid JSON but its top level is not an object.
    case headerNotObject(path: String)
    /// `"__metadata__"` is present but is not an object mapping strings to strings.
    case invalidMetadata(path: String, problem: String)
    /// The header entry for `tensor` is not a JSON object.
    case entryNotObject(path: String, tensor: String)
    /// The header entry for `tensor` lacks `field` (`"dtype"`, `"shape"` or `"data_offsets"`).
    case missingField(path: String, tensor: String, field: String)
    /// The header entry for `tensor` has `field` of the wrong JSON type or with an invalid value.
    case invalidField(path: String, tensor: String, field: String, problem: String)
    /// The `dtype` string of `tensor` is not a safetensors dtype this library knows.
    case unknownDType(path: String, tensor: String, dtype: String)
    /// `data_offsets` span `actualBytes`, but `shape` × size of `dtype` needs `expectedBytes`.
    case sizeMismatch(path: String, tensor: String, dtype: SafeTensorsDType, shape: [Int],
                      expectedBytes: Int, actualBytes: Int)
    /// `tensor` begins at `begin`, before `previousTensor` ends at `previousEnd`.
    case overlappingOffsets(path: String, tensor: String, begin: Int, previousTensor: String, previousEnd: Int)
    /// `tensor` begins at `begin`, but the previous tensor (or the buffer start) ends at `expectedBegin`.
    case gapInOffsets(path: String, tensor: String, begin: Int, expectedBegin: Int)
    /// The tensors cover `coveredBytes` bytes, but the buffer after the header holds `bufferBytes`.
    case bufferLengthMismatch(path: String, coveredBytes: Int, bufferBytes: Int)
    /// No tensor with this name exists in the file.
    case tensorNotFound(path: String, tensor: String)
    /// The tensor is stored as `stored` and cannot be returned as `requested`.
    case dtypeMismatch(path: String, tensor: String, stored: SafeTensorsDType, requested: SafeTensorsDType)
    /// Returning the tensor as `requested` would lose precision (e.g. F64 → F32);
    /// pass `allowingNarrowing: true` to accept that.
    case lossyConversion(path: String, tensor: String, stored: SafeTensorsDType, requested: SafeTensorsDType)
    /// Writer: the number of values given does not equal the product of `shape`.
    case valueCountMismatch(path: String, tensor: String, shape: [Int], expectedCount: Int, actualCount: Int)
    /// Writer: a shape has a negative dimension or its element count overflows `Int`.
    case invalidShape(path: String, tensor: String, shape: [Int], problem: String)
    /// Writer: the tensor name is empty, reserved (`"__metadata__"`) or duplicated.
    case invalidTensorName(path: String, tensor: String, problem: String)
    /// An operating-system call failed while reading or writing `path`.
    case ioFailure(path: String, operation: String, reason: String)
    /// A parameter file's tensor has another shape than the model's layout gives it.
    case shapeMismatch(path: String, tensor: String, shape: [Int], expected: [Int])
    /// A tensor read as values that must be finite (parameters, directions, optimizer state)
    /// holds `value` (NaN or ±infinity) at element `index` (row-major) of its `shape`; the first
    /// such element is reported.
    case nonFiniteValue(path: String, tensor: String, shape: [Int], index: Int, value: Double)

    /// A one-line, human-readable description (for logs and error output).
    public var description: String {
        switch self {
        case let .fileTooShort(path, byteCount):
            return "safetensors file '\(path)': file is \(byteCount) bytes long, shorter than the 8-byte header-length prefix"
        case let .headerLengthExceedsFile(path, declared, available):
            return "safetensors file '\(path)': header length \(declared) bytes is larger than the \(available) bytes that follow the 8-byte prefix (truncated or not a safetensors file)"
        case let .headerNotJSON(path, detail):
            return "safetensors file '\(path)': header is not valid UTF-8 JSON (\(detail))"
        case let .headerNotObject(path):
            return "safetensors file '\(path)': header JSON is not an object mapping tensor names to entries"
        case let .invalidMetadata(path, problem):
            return "safetensors file '\(path)': \"__metadata__\" is invalid: \(problem)"
        case let .entryNotObject(path, tensor):
            return "safetensors file '\(path)': header entry for tensor '\(tensor)' is not a JSON object"
        case let .missingField(path, tensor, field):
            return "safetensors file '\(path)': tensor '\(tensor)' is missing the \"\(field)\" field"
        case let .invalidField(path, tensor, field, problem):
            return "safetensors file '\(path)': tensor '\(tensor)' has an invalid \"\(field)\" field: \(problem)"
        case let .unknownDType(path, tensor, dtype):
            return "safetensors file '\(path)': tensor '\(tensor)' has unknown dtype \"\(dtype)\""
        case let .sizeMismatch(path, tensor, dtype, shape, expected, actual):
            return "safetensors file '\(path)': tensor '\(tensor)' (\(dtype.rawValue), shape \(shape)) needs \(expected) bytes but its data_offsets span \(actual) bytes"
        case let .overlappingOffsets(path, tensor, begin, previous, previousEnd):
            return "safetensors file '\(path)': tensor '\(tensor)' starts at byte \(begin), overlapping tensor '\(previous)' which ends at byte \(previousEnd)"
        case let .gapInOffsets(path, tensor, begin, expected):
            return "safetensors file '\(path)': tensor '\(tensor)' starts at byte \(begin), leaving a gap after byte \(expected) where the previous data ends"
        case let .bufferLengthMismatch(path, covered, buffer):
            return "safetensors file '\(path)': tensors cover \(covered) bytes but the data buffer after the header is \(buffer) bytes"
        case let .tensorNotFound(path, tensor):
            return "safetensors file '\(path)': no tensor named '\(tensor)'"
        case let .dtypeMismatch(path, tensor, stored, requested):
            return "safetensors file '\(path)': tensor '\(tensor)' is stored as \(stored.rawValue) and cannot be read as \(requested.rawValue)"
        case let .lossyConversion(path, tensor, stored, requested):
            return "safetensors file '\(path)': tensor '\(tensor)' is stored as \(stored.rawValue); reading it as \(requested.rawValue) loses precision (pass allowingNarrowing: true to accept)"
        case let .valueCountMismatch(path, tensor, shape, expected, actual):
            return "safetensors file '\(path)': tensor '\(tensor)' has shape \(shape) (\(expected) elements) but \(actual) values were given"
        case let .invalidShape(path, tensor, shape, problem):
            return "safetensors file '\(path)': tensor '\(tensor)' has invalid shape \(shape): \(problem)"
        case let .invalidTensorName(path, tensor, problem):
            return "safetensors file '\(path)': invalid tensor name '\(tensor)': \(problem)"
        case let .ioFailure(path, operation, reason):
            return "'\(path)': \(operation) failed: \(reason)"
        case let .shapeMismatch(path, tensor, shape, expected):
            return "safetensors file '\(path)': tensor '\(tensor)' has shape \(shape), the model expects \(expected)"
        case let .nonFiniteValue(path, tensor, shape, index, value):
            var position: [Int] = []
            var rest = index
            for size in shape.reversed() where size > 0 {
                position.insert(rest % size, at: 0)
                rest /= size
            }
            return "safetensors file '\(path)': tensor '\(tensor)' holds \(value) at element \(index) (index \(position) of shape \(shape)); parameters and directions must be finite"
        }
    }
}
