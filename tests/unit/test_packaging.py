"""The wheel carries what an installed copy needs: every module of dbaas_api and heat_plugins,
every template (the cloud driver's nested templates/drivers/openstack/server.yaml included)
and etc/, as pyproject.toml says. Built from a copy of the source tree with this venv's
setuptools: no network, no build isolation, a few seconds."""
import shutil
import subprocess
import sys
import zipfile

from dbaas_api.config import SOURCE_ROOT

DATA = "heat_dbaas-0.1.0.data/data/share/heat-dbaas/"


def source_files(*names):
    """The files of the source tree under ``names`` (files or directories), no caches."""
    found = []
    for name in names:
        path = SOURCE_ROOT / name
        for file in ([path] if path.is_file() else sorted(path.rglob("*"))):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                found.append(str(file.relative_to(SOURCE_ROOT)))
    return found


def test_the_wheel_carries_every_module_template_and_plugin(tmp_path):
    source, out = tmp_path / "src", tmp_path / "dist"
    files = source_files("pyproject.toml", "README.md", "requirements.txt", "requirements-test.txt",
                    "dbaas_api", "heat_plugins", "templates", "etc")
    for path in files:
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SOURCE_ROOT / path, source / path)
    subprocess.run([sys.executable, "-c", f"from setuptools import build_meta; build_meta.build_wheel({str(out)!r})"],
                   cwd=source, check=True, capture_output=True)
    (wheel,) = out.glob("heat_dbaas-0.1.0-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    modules = [path for path in files if path.startswith(("dbaas_api/", "heat_plugins/")) and path.endswith(".py")]
    data = [path for path in files if path.startswith(("templates/", "etc/"))]
    assert "heat_plugins/local_server.py" in modules and "templates/drivers/openstack/server.yaml" in data
    assert [path for path in modules if path not in names] == []
    assert [path for path in data if DATA + path not in names] == []
    entry_points = zipfile.ZipFile(wheel).read("heat_dbaas-0.1.0.dist-info/entry_points.txt").decode()
    assert "dbaas = dbaas_api.cli:main" in entry_points
