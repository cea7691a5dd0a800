"""The one thing pyproject.toml cannot say: Earmark's optional C extensions.

``earmark.chromaprint._native`` decodes fingerprints and runs compare2 in C, and
``earmark.chromaprint._test2`` computes the TEST2 fingerprint stage (see their sources).
They are optional: without a C compiler and Python's headers the build goes on without them, and
earmark.chromaprint uses its numpy implementations (same results, slower).
"""

import sys

from setuptools import Extension, setup

# The fingerprint stage must round like the numpy specification: no fused multiply-add.
STRICT_FLOAT = [] if sys.platform == "win32" else ["-ffp-contract=off"]

setup(
    ext_modules=[
        Extension(
            "earmark.chromaprint._native",
            ["src/earmark/chromaprint/_native.c"],
            optional=True,
        ),
        Extension(
            "earmark.chromaprint._test2",
            ["src/earmark/chromaprint/_test2.c"],
            extra_compile_args=STRICT_FLOAT,
            optional=True,
        ),
    ]
)
