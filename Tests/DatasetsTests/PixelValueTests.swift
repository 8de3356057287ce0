import Foundation
import Testing
import Tensors
@testable import Datasets

/// The pixel values of a split in each precision, on the fixture data set of
/// `Tests/Fixtures/data` (96 training images, 16 test images; bytes 0 and 128…255).
@Suite("Pixel values: byte / 255 in the precision asked for")
struct PixelValueTests {
    static let fixture = packageRoot.appendingPathComponent("Tests/Fixtures/data")

    @Test("Float64 values are Double(byte) / 255, not a widened Float")
    func doubleValuesAreDoubleQuotients() throws {
        let data = try MNISTDataset(directory: Self.fixture, validationCount: 16)
        for split in [data.train, data.validation, data.test] {
            let x = split.images(as: Double.self)
            #expect(x.shape == [split.count, 784])
            #expect(x.scalars.count == split.pixels.count)
            #expect(zip(x.scalars, split.pixels).allSatisfy { $0.bitPattern == (Double($1) / 255).bitPattern })
        }
        // Rounding to Float first gives other numbers: 254/255 is 0.996078431372549 in Double
        // and 0.9960784316062927 through Float.
        let x = data.train.images(as: Double.self)
        let widened = zip(x.scalars, data.train.pixels).filter { $0 != Double(Float($1) / 255) }
        #expect(widened.count > 100, "\(widened.count) pixels differ from the widened Float values")
        #expect(Double(254 as UInt8) / 255 != Double(Float(254 as UInt8) / 255))
    }

    @Test("Float values are Float(byte) / 255, bit for bit")
    func floatValuesAreFloatQuotients() throws {
        let data = try MNISTDataset(directory: Self.fixture, validationCount: 16)
        for split in [data.train, data.validation, data.test] {
            let x = split.images(as: Float.self)
            #expect(x.shape == [split.count, 784])
            #expect(zip(x.scalars, split.pixels).allSatisfy { $0.bitPattern == (Float($1) / 255).bitPattern })
        }
        // Every byte's value is the Float nearest to b/255: |255·v − b| (exact in Double) is no
        // larger than for either neighbouring Float.
        for b in 0...255 {
            let v = DatasetSplit.pixelValue(UInt8(b), as: Float.self)
            let error = { (u: Float) in abs(Double(u) * 255 - Double(b)) }
            #expect(error(v) <= error(v.nextUp) && error(v) <= error(v.nextDown), "byte \(b)")
        }
    }

    @Test("ranges and gathered mini-batches are the corresponding rows, in both precisions")
    func rowsAndBatches() throws {
        let split = try MNISTDataset(directory: Self.fixture, validationCount: 16).train
        let whole32 = split.images(as: Float.self), whole64 = split.images(as: Double.self)
        #expect(split.images(rows: 10..<30, as: Float.self) == whole32.rows(10..<30))
        #expect(split.images(rows: 10..<30, as: Double.self) == whole64.rows(10..<30))
        #expect(split.images(rows: 0..<0, as: Double.self).shape == [0, 784])
        var batches = 0
        for positions in split.batchIndices(size: 16, seed: 3, epoch: 1) {
            let x32 = split.images(rows: positions, as: Float.self), x64 = split.images(rows: positions, as: Double.self)
            #expect(x32 == whole32.gatherRows(positions))
            #expect(x64 == whole64.gatherRows(positions))
            for (r, p) in positions.enumerated() {
                #expect(x64.rows(r..<(r + 1)).scalars == split.image(at: p).map { Double($0) / 255 })
            }
            let batch = split.gather(positions)
            #expect(batch.images(as: Float.self) == x32)
            #expect(batch.images(as: Double.self) == x64)
            batches += 1
        }
        #expect(batches == 5)
        // A subset keeps the bytes, so its values are those of the rows it was made of.
        let subset = split.subset([7, 3, 7])
        #expect(subset.images(as: Double.self) == split.images(rows: [7, 3, 7], as: Double.self))
    }
}
