"""The one thing pyproject.toml cannot say: Earmark's optional C extension.

``earmark.chromaprint._native`` decodes fingerprints and runs compare2 in C (see its source).
It is optional: without a C compiler and Python's headers the build goes on without it, and
earmark.chromaprint uses its numpy implementations (same results, slower).
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "earmark.chromaprint._native",
            ["src/earmark/chromaprint/_native.c"],
            optional=True,
        )
    ]
)
