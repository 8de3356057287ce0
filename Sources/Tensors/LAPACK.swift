/// Symmetric eigen-decompositions through the LAPACK bundled in OpenBLAS
/// (Fortran symbols `dsyevd_` and `dstev_`; LP64, 32-bit integers as in Debian's OpenBLAS).
public enum LAPACK {
    /// Errors reported by LAPACK.
    public enum Failure: Error, CustomStringConvertible, Equatable {
        /// The matrix is not square or not finite.
        case invalidInput(String)
        /// LAPACK returned `info ≠ 0`.
        case notConverged(routine: String, info: Int)

        public var description: String {
            switch self {
            case let .invalidInput(m): return m
            case let .notConverged(routine, info): return "\(routine) failed to converge (info = \(info))"
            }
        }
    }

    /// Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric `n × n` matrix,
    /// by the divide-and-conquer driver `dsyevd` (only the lower triangle is read).
    /// - Returns: `values` (n, ascending) and `vectors` `[n, n]` whose **row** k is the
    ///   eigenvector of `values[k]`.
    /// - Throws: ``Failure`` for a non-square or non-finite matrix, or no convergence.
    public static func symmetricEigen(_ a: Tensor<Double>) throws -> (values: [Double], vectors: Tensor<Double>) {
        guard a.rank == 2, a.shape[0] == a.shape[1] else { throw Failure.invalidInput("symmetricEigen: expected a square matrix, got shape \(a.shape)") }
        guard a.scalars.allSatisfy({ $0.isFinite }) else { throw Failure.invalidInput("symmetricEigen: the matrix has non-finite entries") }
        let n = a.shape[0]
        if n == 0 { return ([], Tensor(shape: [0, 0], scalars: [])) }
        // Row-major A is column-major Aᵀ = A (symmetric): pass it as is; LAPACK returns column-major
        // eigenvectors, i.e. row-major rows are eigenvectors.
        var m = a.scalars
        var w = [Double](repeating: 0, count: n)
        var jobz: CChar = 86 /* V */, uplo: CChar = 85 /* U: upper of column-major = lower of row-major */
        var nn = Int32(n), lda = Int32(n), info: Int32 = 0
        var lwork: Int32 = -1, liwork: Int32 = -1
        var workQuery = 0.0
        var iworkQuery: Int32 = 0
        lapack_dsyevd(&jobz, &uplo, &nn, &m, &lda, &w, &workQuery, &lwork, &iworkQuery, &liwork, &info, 1, 1)
        guard info == 0 else { throw Failure.notConverged(routine: "dsyevd (workspace query)", info: Int(info)) }
        lwork = Int32(workQuery)
        liwork = iworkQuery
        var work = [Double](repeating: 0, count: Int(lwork))
        var iwork = [Int32](repeating: 0, count: Int(liwork))
        lapack_dsyevd(&jobz, &uplo, &nn, &m, &lda, &w, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        guard info == 0 else { throw Failure.notConverged(routine: "dsyevd", info: Int(info)) }
        return (w, Tensor(shape: [n, n], scalars: m))
    }

    /// Eigenvalues (ascending) and eigenvectors of the symmetric tridiagonal matrix with
    /// diagonal `d` (n) and off-diagonal `e` (n − 1), by `dstev`.
    /// - Returns: `values` and `vectors` `[n, n]` whose row k is the eigenvector of `values[k]`.
    /// - Throws: ``Failure`` for inconsistent lengths, non-finite input or no convergence.
    public static func tridiagonalEigen(diagonal d: [Double], offDiagonal e: [Double]) throws -> (values: [Double], vectors: Tensor<Double>) {
        let n = d.count
        guard n >= 1, e.count == n - 1 else { throw Failure.invalidInput("tridiagonalEigen: \(d.count) diagonal and \(e.count) off-diagonal entries") }
        guard (d + e).allSatisfy({ $0.isFinite }) else { throw Failure.invalidInput("tridiagonalEigen: non-finite entries") }
        var dd = d, ee = e + [0]
        var z = [Double](repeating: 0, count: n * n)
        var work = [Double](repeating: 0, count: max(1, 2 * n - 2))
        var jobz: CChar = 86, nn = Int32(n), ldz = Int32(n), info: Int32 = 0
        lapack_dstev(&jobz, &nn, &dd, &ee, &z, &ldz, &work, &info, 1)
        guard info == 0 else { throw Failure.notConverged(routine: "dstev", info: Int(info)) }
        return (dd, Tensor(shape: [n, n], scalars: z))
    }
}

@_silgen_name("dsyevd_")
func lapack_dsyevd(_ jobz: UnsafeMutablePointer<CChar>, _ uplo: UnsafeMutablePointer<CChar>, _ n: UnsafeMutablePointer<Int32>,
                   _ a: UnsafeMutablePointer<Double>, _ lda: UnsafeMutablePointer<Int32>, _ w: UnsafeMutablePointer<Double>,
                   _ work: UnsafeMutablePointer<Double>, _ lwork: UnsafeMutablePointer<Int32>, _ iwork: UnsafeMutablePointer<Int32>,
                   _ liwork: UnsafeMutablePointer<Int32>, _ info: UnsafeMutablePointer<Int32>, _ jobzLength: Int, _ uploLength: Int)

@_silgen_name("dstev_")
func lapack_dstev(_ jobz: UnsafeMutablePointer<CChar>, _ n: UnsafeMutablePointer<Int32>, _ d: UnsafeMutablePointer<Double>,
                  _ e: UnsafeMutablePointer<Double>, _ z: UnsafeMutablePointer<Double>, _ ldz: UnsafeMutablePointer<Int32>,
                  _ work: UnsafeMutablePointer<Double>, _ info: UnsafeMutablePointer<Int32>, _ jobzLength: Int)
