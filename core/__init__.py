"""Folio's headless engine: library, readers, chunking, embedding, search and answers."""

import os

__version__ = "0.1.0"

# numpy's OpenBLAS threads keep spinning after a matrix product and take the CPU from the ONNX
# runtime that embeds the next query: on 2 cores that doubled query embedding (10 -> 20 ms at
# p50). Folio's products are matrix-vector, bound by memory, so one BLAS thread loses nothing.
# Set before numpy is first imported (core is imported first by every entry point).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
