"""Pamps packaging: ``pip install -e .`` installs the package and the ``pamps`` command."""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def requirements(name: str) -> list[str]:
    """Top-level requirements from requirements.in (the lock is requirements.txt)."""
    lines = (HERE / name).read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith(("#", "-"))]


setup(
    name="pamps",
    version="0.1.0",
    description="Pamps: a Twitter-style microblog served as a JSON API",
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    packages=find_packages(exclude=["tests", "tests.*", "migrations", "migrations.*"]),
    include_package_data=True,
    package_data={"pamps": ["default.toml", "py.typed"]},
    python_requires=">=3.11",
    install_requires=requirements("requirements.in"),
    entry_points={"console_scripts": ["pamps = pamps.cli:main"]},
)
