import WinnowCLI
import WinnowTensor

// OpenBLAS chooses its kernels at load time; on CPUs it misjudges, restart with the faster ones (see BLAS).
BLAS.restartWithFasterKernelsIfAvailable()
WinnowCLI.main(Array(CommandLine.arguments.dropFirst()))
