#!/usr/bin/env bash
# Creates .venv-bench with the peer tools winnow-bench measures against (development only; never on the runtime path).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-bench/bin/python ] || ! .venv-bench/bin/python -c "import cc2dataset" 2>/dev/null; then
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install --quiet --disable-pip-version-check "cc2dataset==1.5.0"
fi
# PyTorch and transformers for the embed benchmark's peer (and for scripts/train_default_encoder.py). The CPU-only
# wheel is much smaller; where the index has no +cpu build, the default one.
if [ ! -x .venv-embed/bin/python ] || ! .venv-embed/bin/python -c "import torch, transformers, safetensors, PIL" 2>/dev/null; then
    python3 -m venv .venv-embed
    .venv-embed/bin/pip install --quiet --disable-pip-version-check "torch==2.13.0+cpu" 2>/dev/null \
        || .venv-embed/bin/pip install --quiet --disable-pip-version-check "torch==2.13.0"
    .venv-embed/bin/pip install --quiet --disable-pip-version-check "transformers==5.23.0" safetensors pillow numpy
fi
# imagededup (the near-duplicate benchmark's peer) and scikit-image (whose bundled photographs are its base images).
if [ ! -x .venv-bench-dedup/bin/python ] || ! .venv-bench-dedup/bin/python -c "import imagededup, skimage" 2>/dev/null; then
    python3 -m venv .venv-bench-dedup
    .venv-bench-dedup/bin/pip install --quiet --disable-pip-version-check "imagededup==0.3.3.post2" "scikit-image==0.26.0"
fi
# pyarrow (the Parquet read benchmark's peer, and the writer of its LAION-shaped input).
if [ ! -x .venv-bench-parquet/bin/python ] || ! .venv-bench-parquet/bin/python -c "import pyarrow, numpy" 2>/dev/null; then
    python3 -m venv .venv-bench-parquet
    .venv-bench-parquet/bin/pip install --quiet --disable-pip-version-check "pyarrow==26.0.1" numpy
fi
