"""Build the Cython kernels in csrc/ as awrs.kernels._<name>_c."""

from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, find_packages, setup

extensions = [
    Extension(f"awrs.kernels.{pyx.stem}", [str(pyx)], include_dirs=[np.get_include()],
              extra_compile_args=["-O3"],
              define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")])
    for pyx in sorted(Path("csrc").glob("*.pyx"))
]

setup(
    packages=find_packages(include=["awrs", "awrs.*"]),
    ext_modules=cythonize(extensions, language_level=3, quiet=True),
)
