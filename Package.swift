// swift-tools-version:6.0
// Duet: gold-standard ab-initio cryo-EM refinement on MPI.
// Targets depend downward only: DuetCore (value types, no I/O) and DuetKernels (numerical kernels over FFTW,
// no I/O, no MPI) → DuetFormats (files) and DuetComm (communicators, parallel HDF5) → DuetEngine (jobs) →
// duet (command line).
import PackageDescription

let package = Package(
    name: "Duet",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "duet", targets: ["duet"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libopenmpi-dev"])]),
        .systemLibrary(name: "CFFTW", pkgConfig: "fftw3",
                       providers: [.apt(["libfftw3-dev"])]),
        // FFTW-MPI has no .pc file: `ompi-c` puts mpi.h (which fftw3-mpi.h includes) on the include path.
        .systemLibrary(name: "CFFTWMPI", pkgConfig: "ompi-c",
                       providers: [.apt(["libfftw3-mpi-dev"])]),
        .systemLibrary(name: "CHDF5", pkgConfig: "hdf5-openmpi",
                       providers: [.apt(["libhdf5-openmpi-dev"])]),
        .target(name: "DuetShim", dependencies: ["CMPI", "CHDF5"]),

        .target(name: "DuetCore"),
        // Release: the hot loops' SIMD for the build machine's CPU (-target-cpu native: AVX-512 on the machines
        // measured; the same IEEE results as the baseline x86-64 code, 1.5× faster). Build on the oldest node kind
        // of a mixed cluster (README).
        .target(name: "DuetKernels", dependencies: ["DuetCore", "CFFTW"],
                swiftSettings: [.unsafeFlags(["-Ounchecked", "-target-cpu", "native"], .when(configuration: .release))]),
        .target(name: "DuetFormats", dependencies: ["DuetCore"]),
        .target(name: "DuetComm", dependencies: ["DuetCore", "CMPI", "CFFTW", "CFFTWMPI", "CHDF5", "DuetShim"]),
        .target(name: "DuetEngine", dependencies: ["DuetCore", "DuetKernels", "DuetFormats", "DuetComm"],
                swiftSettings: [.unsafeFlags(["-target-cpu", "native"], .when(configuration: .release))]),
        .executableTarget(name: "duet", dependencies: [
            "DuetEngine", "DuetComm", "DuetCore", "DuetShim",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .executableTarget(name: "duet-bench", dependencies: ["DuetKernels", "DuetCore", "CReferenceKernels"],
                          path: "Benchmarks/DuetBench"),
        .target(name: "CReferenceKernels", path: "Benchmarks/CReference",
                cSettings: [.unsafeFlags(["-O3", "-march=native", "-ffp-contract=fast"])]),

        .target(name: "DuetTestSupport", path: "Tests/DuetTestSupport"),
        .testTarget(name: "DuetCoreTests", dependencies: ["DuetCore", "DuetTestSupport"]),
        .testTarget(name: "DuetKernelsTests", dependencies: ["DuetKernels", "DuetCore", "DuetFormats", "DuetTestSupport"]),
        .testTarget(name: "DuetFormatsTests", dependencies: ["DuetFormats", "DuetCore", "DuetTestSupport"]),
        .testTarget(name: "DuetEngineTests", dependencies: ["DuetEngine", "DuetKernels", "DuetComm", "DuetCore", "DuetFormats",
                                                         "DuetTestSupport"]),
        .testTarget(name: "DuetCommTests", dependencies: ["DuetComm", "DuetCore", "DuetTestSupport"]),
        .testTarget(name: "DuetCLITests", dependencies: ["duet", "DuetEngine", "DuetKernels", "DuetFormats", "DuetCore",
                                                      "DuetTestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
