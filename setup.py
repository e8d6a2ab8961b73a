"""Build script: the Python packages, with ``kernels/`` installed as ``pykernels.kernels``."""

from setuptools import setup

setup(
    packages=["pykernels", "pykernels.reference", "pykernels.kernels"],
    package_dir={"pykernels.kernels": "kernels"},
)
