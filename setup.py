from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent


def requirements(name):
    lines = (HERE / name).read_text().splitlines()
    return [ln for ln in lines if ln and not ln.startswith("#")]


setup(
    name="heat-dbaas",
    version="0.1.0",
    description="Database-as-a-service on OpenStack Heat, speaking Trove's v1.0 API",
    long_description=(HERE / "README.md").read_text(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=find_packages(include=["dbaas_api", "dbaas_api.*", "heat_plugins"]),
    include_package_data=True,
    data_files=[
        # templates/ and every directory under it (environments, drivers, examples), as they are
        *((f"share/heat-dbaas/{d}", [str(p) for p in sorted(d.glob("*")) if p.is_file()])
          for d in [Path("templates"), *sorted(p for p in Path("templates").rglob("*") if p.is_dir())]),
        ("share/heat-dbaas/etc", [str(p) for p in Path("etc").glob("*") if p.is_file()]),
    ],
    install_requires=requirements("requirements.txt"),
    extras_require={"test": requirements("requirements-test.txt")},
    entry_points={"console_scripts": ["dbaas = dbaas_api.cli:main"]},
)
