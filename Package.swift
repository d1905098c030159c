// swift-tools-version:6.0
import PackageDescription

// Winnow has no Swift package dependencies: C libraries come from Debian through system-library targets.

// Each Swift module keeps a README beside its sources.
let readme = ["README.md"]

let package = Package(
    name: "Winnow",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "winnow", targets: ["winnow"]),
        .executable(name: "winnow-bench", targets: ["winnow-bench"]),
    ],
    targets: [
        // C libraries.
        .systemLibrary(
            name: "CCurl", pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(
            name: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CZlib", pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]),
        // winnow-bench only: the TurboJPEG API as the raw-decode baseline.
        .systemLibrary(
            name: "CTurboJPEG", pkgConfig: "libturbojpeg",
            providers: [.apt(["libturbojpeg0-dev"])]),
        // Parquet's codecs (WinnowParquet; GZIP pages go through CZlib).
        .systemLibrary(
            name: "CSnappy", pkgConfig: "snappy",
            providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(
            name: "CZstd", pkgConfig: "libzstd",
            providers: [.apt(["libzstd-dev"])]),
        // The Public Suffix List (WinnowReport's registrable domains).
        .systemLibrary(
            name: "CPSL", pkgConfig: "libpsl",
            providers: [.apt(["libpsl-dev"])]),
        .systemLibrary(
            name: "CDeflate", pkgConfig: "libdeflate",
            providers: [.apt(["libdeflate-dev"])]),
        .systemLibrary(
            name: "CCrypto", pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]),
        // giflib ships no pkg-config file on Debian 12; its header is in /usr/include.
        .systemLibrary(
            name: "CGIF",
            providers: [.apt(["libgif-dev"])]),
        // OpenBLAS's pthread build: sgemm for the CLIP towers.
        .systemLibrary(
            name: "CBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CPNG", pkgConfig: "libpng",
            providers: [.apt(["libpng-dev"])]),
        .systemLibrary(
            name: "CWebP", pkgConfig: "libwebp",
            providers: [.apt(["libwebp-dev"])]),
        // AVIF (libavif on dav1d) and JPEG XL (libjxl): both report errors by result codes, so system libraries.
        // No pkgConfig: their .pc files add -D flags (AVIF_DLL, HWY_SHARED_DEFINE) that SwiftPM refuses with a
        // warning on every build; the headers are in /usr/include and the modulemaps name the libraries.
        .systemLibrary(
            name: "CAVIF",
            providers: [.apt(["libavif-dev"])]),
        .systemLibrary(
            name: "CJXL",
            providers: [.apt(["libjxl-dev"])]),
        // libjpeg reports errors by longjmp, which Swift cannot survive: that stays inside this C target.
        .target(
            name: "CJPEG",
            linkerSettings: [.linkedLibrary("jpeg")]),
        // Embedding scans with F16C + FMA, chosen at run time (see winnow_kernels.c).
        .target(name: "CKernels"),
        // PNG decoding on libdeflate for the common cases; the rest goes to libpng (see winnow_png_fast.h), 16-bit
        // files a row at a time (winnow_png_rows.h; libpng's longjmp stays inside this C target).
        .target(
            name: "CPNGDeflate", exclude: readme,
            linkerSettings: [.linkedLibrary("deflate"), .linkedLibrary("png16")]),
        // The WAT reader's byte work in C: JSON scans (SSE2/AVX2/AVX-512), record walk, link and page URLs.
        .target(name: "CScan", exclude: readme),
        // SSE2/AVX2 passes of WinnowImage's resampler (see winnow_resample.h).
        .target(name: "CResample", exclude: readme),

        // Swift modules.
        .target(name: "WinnowCore", dependencies: ["CCrypto"], exclude: readme),
        .target(name: "WinnowSQLite", dependencies: ["CSQLite"], exclude: readme),
        .target(
            name: "WinnowCrawl", dependencies: ["WinnowCore", "WinnowParquet", "CZlib", "CDeflate", "CScan"],
            exclude: readme),
        .target(name: "WinnowFetch", dependencies: ["WinnowCore", "WinnowSQLite", "CCurl"], exclude: readme),
        .target(
            name: "WinnowImage",
            dependencies: [
                "WinnowCore", "CJPEG", "CPNG", "CPNGDeflate", "CWebP", "CGIF", "CAVIF", "CJXL", "CResample",
            ],
            exclude: readme),
        .target(name: "WinnowTensor", dependencies: ["CBLAS", "CKernels"], exclude: readme),
        .target(name: "WinnowEmbed", dependencies: ["WinnowCore", "WinnowTensor"], exclude: readme),
        .target(name: "WinnowDedup", dependencies: ["WinnowCore", "WinnowTensor"], exclude: readme),
        .target(name: "WinnowParquet", dependencies: ["CSnappy", "CZstd", "CZlib"], exclude: readme),
        .target(name: "WinnowShards", dependencies: ["WinnowCore", "WinnowSQLite", "WinnowParquet"], exclude: readme),
        .target(name: "WinnowOptOut", dependencies: ["WinnowCore", "WinnowSQLite"], exclude: readme),
        .target(name: "WinnowReport", dependencies: ["WinnowCore", "WinnowShards", "CPSL"], exclude: readme),
        .target(
            name: "WinnowSampleWeb", dependencies: ["WinnowCore", "WinnowCrawl", "WinnowImage"], exclude: readme),
        .target(
            name: "WinnowPipeline",
            dependencies: [
                "WinnowCore", "WinnowCrawl", "WinnowFetch", "WinnowImage", "WinnowEmbed", "WinnowDedup", "WinnowShards",
                "WinnowOptOut", "WinnowTensor",
            ],
            exclude: readme),
        .target(
            name: "WinnowCLI",
            dependencies: [
                "WinnowCore", "WinnowCrawl", "WinnowFetch", "WinnowImage", "WinnowEmbed", "WinnowDedup", "WinnowShards",
                "WinnowPipeline", "WinnowSampleWeb", "WinnowOptOut", "WinnowReport",
            ],
            exclude: readme),
        .executableTarget(name: "winnow", dependencies: ["WinnowCLI", "WinnowTensor"], exclude: readme),
        .executableTarget(
            name: "winnow-bench",
            dependencies: [
                "WinnowCore", "WinnowCrawl", "WinnowImage", "WinnowShards", "WinnowSampleWeb", "WinnowEmbed",
                "WinnowTensor", "WinnowDedup", "WinnowOptOut", "WinnowSQLite", "WinnowFetch", "CTurboJPEG",
                "WinnowTestSupport", "WinnowParquet",
            ],
            exclude: readme),
        .target(
            name: "WinnowTestSupport", dependencies: ["WinnowCore", "WinnowCrawl", "WinnowImage", "WinnowSampleWeb"],
            exclude: readme),

        // Tests.
        .testTarget(name: "WinnowCoreTests", dependencies: ["WinnowCore"]),
        .testTarget(name: "WinnowSQLiteTests", dependencies: ["WinnowSQLite"]),
        .testTarget(name: "WinnowParquetTests", dependencies: ["WinnowParquet"], exclude: ["Fixtures"]),
        .testTarget(
            name: "WinnowCrawlTests", dependencies: ["WinnowCrawl", "WinnowTestSupport"]),
        .testTarget(
            name: "WinnowFetchTests",
            dependencies: ["WinnowFetch", "WinnowCrawl", "WinnowTestSupport", "WinnowSampleWeb"],
        ),
        .testTarget(
            name: "WinnowImageTests", dependencies: ["WinnowImage", "WinnowTestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "WinnowTensorTests", dependencies: ["WinnowTensor", "WinnowCore"]),
        .testTarget(name: "WinnowDedupTests", dependencies: ["WinnowDedup", "WinnowCore"]),
        .testTarget(name: "WinnowOptOutTests", dependencies: ["WinnowOptOut", "WinnowCore"]),
        .testTarget(
            name: "WinnowReportTests",
            dependencies: ["WinnowReport", "WinnowShards", "WinnowSQLite", "WinnowCore", "WinnowTestSupport"]),
        .testTarget(
            name: "WinnowEmbedTests",
            dependencies: ["WinnowEmbed", "WinnowImage", "WinnowSampleWeb", "WinnowTestSupport"]),
        .testTarget(
            name: "WinnowShardsTests", dependencies: ["WinnowShards", "WinnowTestSupport"]),
        .testTarget(
            name: "WinnowSampleWebTests", dependencies: ["WinnowSampleWeb", "WinnowCrawl", "WinnowTestSupport"]),
        .testTarget(
            name: "WinnowPipelineTests",
            dependencies: [
                "WinnowPipeline", "WinnowShards", "WinnowSampleWeb", "WinnowTestSupport", "WinnowEmbed", "WinnowImage",
            ],
        ),
        .testTarget(
            name: "WinnowCLITests",
            dependencies: [
                "WinnowTestSupport", "WinnowShards", "WinnowSampleWeb", "WinnowSQLite", "WinnowCore", "WinnowCLI",
                "WinnowParquet",
            ]),
    ],
    swiftLanguageModes: [.v6]
)
