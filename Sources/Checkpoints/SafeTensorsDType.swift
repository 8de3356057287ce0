// Element types of the safetensors format, Hugging Face
// (https://github.com/huggingface/safetensors, README "Format": dtype strings).

/// The element type of a tensor stored in a safetensors file, spelled as in the
/// header's `"dtype"` field. All multi-byte types are stored little-endian.
///
/// The reader accepts every case; typed accessors exist for ``f32``, ``f64`` and
/// ``i64`` (other types are available as raw bytes).
public enum SafeTensorsDType: String, CaseIterable, Sendable, Hashable {
    /// Booleans, one byte each.
    case bool = "BOOL"
    /// Unsigned 8-bit integers.
    case u8 = "U8"
    /// Signed 8-bit integers.
    case i8 = "I8"
    /// 8-bit floats with 5 exponent and 2 mantissa bits.
    case f8e5m2 = "F8_E5M2"
    /// 8-bit floats with 4 exponent and 3 mantissa bits.
    case f8e4m3 = "F8_E4M3"
    /// Signed 16-bit integers.
    case i16 = "I16"
    /// Unsigned 16-bit integers.
    case u16 = "U16"
    /// IEEE half precision.
    case f16 = "F16"
    /// bfloat16: 8 exponent and 7 mantissa bits.
    case bf16 = "BF16"
    /// Signed 32-bit integers.
    case i32 = "I32"
    /// Unsigned 32-bit integers.
    case u32 = "U32"
    /// IEEE single precision (`Float`).
    case f32 = "F32"
    /// IEEE double precision (`Double`).
    case f64 = "F64"
    /// Signed 64-bit integers.
    case i64 = "I64"
    /// Unsigned 64-bit integers.
    case u64 = "U64"

    /// Size of one element in bytes.
    public var byteSize: Int {
        switch self {
        case .bool, .u8, .i8, .f8e5m2, .f8e4m3: return 1
        case .i16, .u16, .f16, .bf16: return 2
        case .i32, .u32, .f32: return 4
        case .f64, .i64, .u64: return 8
        }
    }
}
