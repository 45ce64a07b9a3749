"""Packaging as users get it: the sdist and wheel that ``python -m build`` makes, the wheel installed into a
clean virtual environment, and the MCP registry's ``server.json``.

Offline, as every test here: the build uses this environment's setuptools (``--no-isolation``; the ``dev`` extra
pins one recent enough), and the clean environment gets the wheel alone, its dependencies seen through a path file
to this environment's. That the declared dependencies install from the package index, CI shows when it sets up
(``pip install -e .[dev]``, then ``scripts/ecosystem.sh`` installs the wheel with uvx and pipx). Each step has a
time bound.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path
from typing import Any

import pytest

from zilliz_refresh_mcp.config import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
NAME = PYPROJECT["project"]["name"]
VERSION = PYPROJECT["project"]["version"]
PACKAGE = "zilliz_refresh_mcp"
REGISTRY_NAME = "io.github.zilliz-refresh-mcp/zilliz-refresh-mcp"
SETTINGS_VARS = {f"{ENV_PREFIX}{field.upper()}" for field in Settings.model_fields}
# Never copied into the build: local environments, caches and build output.
NOT_SOURCE = (
    ".git",
    ".venv",
    ".ci-work",
    "node_modules",
    "__pycache__",
    "*.pyc",
    "*.egg-info",
    "build",
    "dist",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
    "test-artifacts",
)
BUILD_TIMEOUT = 300
INSTALL_TIMEOUT = 600


# --- server.json and the registry name (fast) ------------------------------------------------------


def server_json() -> dict[str, Any]:
    data = json.loads((ROOT / "server.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_server_json_matches_the_package() -> None:
    data = server_json()
    assert str(data["$schema"]).startswith("https://static.modelcontextprotocol.io/schemas/")
    assert data["name"] == REGISTRY_NAME
    assert re.fullmatch(r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+", REGISTRY_NAME)
    assert 1 <= len(str(data["description"])) <= 100  # the registry's limit
    assert data["version"] == VERSION
    packages = data["packages"]
    assert isinstance(packages, list) and len(packages) == 1
    (package,) = packages
    assert package["registryType"] == "pypi"
    assert package["identifier"] == NAME
    assert package["version"] == VERSION
    assert package["transport"] == {"type": "stdio"}


def test_server_json_environment_variables_are_settings() -> None:
    (package,) = server_json()["packages"]
    variables = {variable["name"]: variable for variable in package["environmentVariables"]}
    assert set(variables) <= SETTINGS_VARS, set(variables) - SETTINGS_VARS
    required = {name for name, variable in variables.items() if variable.get("isRequired")}
    assert required == {"ZILLIZ_CLUSTER_ENDPOINT", "ZILLIZ_TOKEN"}
    secret = {name for name, variable in variables.items() if variable.get("isSecret")}
    assert secret == {"ZILLIZ_TOKEN"}
    for name, variable in variables.items():
        assert variable.get("description"), name
        assert variable.get("format", "string") in ("string", "number", "boolean", "filepath"), name
        if "default" in variable:
            assert isinstance(variable["default"], str), name
    # The HTTP-serving settings do not apply to a stdio package.
    assert not {"ZILLIZ_TRANSPORT", "ZILLIZ_HOST", "ZILLIZ_PORT", "ZILLIZ_MCP_BEARER_TOKEN"} & set(variables)


def test_readme_carries_the_registry_name_under_the_title() -> None:
    lines = [line for line in (ROOT / "README.md").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert lines[0] == f"# {NAME}"
    assert lines[1] == f"<!-- mcp-name: {REGISTRY_NAME} -->"


# --- build, install, run (e2e) ---------------------------------------------------------------------


def clean_env() -> dict[str, str]:
    """The environment minus this checkout's venv and any ZILLIZ_* setting of the developer."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    return {key: value for key, value in os.environ.items() if key not in drop and not key.startswith("ZILLIZ_")}


def run(args: list[str], *, timeout: float, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout, check=False)
    assert proc.returncode == 0, f"{args} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def package_files(src: Path) -> set[str]:
    """Every file of the package's source directory, relative to ``server/``."""
    base = src / "server"
    return {
        path.relative_to(base).as_posix()
        for path in (base / PACKAGE).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(copy of the checkout, wheel, sdist): ``python -m build`` on a copy, so the work tree stays clean."""
    if importlib.util.find_spec("build") is None:
        pytest.fail("the `build` package is missing: it belongs in the `dev` extra of pyproject.toml")
    work = tmp_path_factory.mktemp("packaging")
    src = work / "src"
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    dist = work / "dist"
    # sdist first, then the wheel built from the unpacked sdist: proves the sdist is complete.
    build = [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(src)]
    run(build, timeout=BUILD_TIMEOUT, cwd=work)
    wheels, sdists = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(dist.iterdir())
    return src, wheels[0], sdists[0]


@pytest.fixture(scope="module")
def venv(built: tuple[Path, Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel, and this environment's packages for its dependencies: a path
    file adds them after its own (not processing their path files, so this checkout's editable install is not
    seen)."""
    _, wheel, _ = built
    work = tmp_path_factory.mktemp("venv")
    home = work / "venv"
    run([sys.executable, "-m", "venv", str(home)], timeout=120, cwd=work)
    python = str(home / "bin" / "python")
    install = [python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", str(wheel)]
    run(install, timeout=INSTALL_TIMEOUT, cwd=work)
    own = run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], timeout=60, cwd=work)
    (Path(own.stdout.strip()) / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n", encoding="utf-8")
    run([python, "-m", "pip", "check"], timeout=120, cwd=work)
    return home


@pytest.mark.e2e
def test_wheel_contents(built: tuple[Path, Path, Path]) -> None:
    src, wheel, _ = built
    assert wheel.name == f"{PACKAGE}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = f"{PACKAGE}-{VERSION}.dist-info"
        metadata = Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode())
        entry_points = archive.read(f"{dist_info}/entry_points.txt").decode()
    missing = package_files(src) - names
    assert not missing, f"package files left out of the wheel (package-data?): {sorted(missing)}"
    assert not [name for name in names if name.startswith(("tests/", "bench/", "server/"))]
    assert metadata["Name"] == NAME and metadata["Version"] == VERSION
    assert metadata["License-Expression"] == PYPROJECT["project"]["license"]
    assert f"{dist_info}/licenses/LICENSE" in names
    assert metadata["Requires-Python"] == PYPROJECT["project"]["requires-python"]
    required = {re.split(r"[<>=!~ ;\[]", req, maxsplit=1)[0] for req in metadata.get_all("Requires-Dist") or []}
    declared = {re.split(r"[<>=!~ ;\[]", req, maxsplit=1)[0] for req in PYPROJECT["project"]["dependencies"]}
    assert declared <= required
    assert re.search(rf"^{NAME} = {PACKAGE}\.cli:main$", entry_points, re.M), entry_points


@pytest.mark.e2e
def test_sdist_contents(built: tuple[Path, Path, Path]) -> None:
    src, _, sdist = built
    assert sdist.name == f"{PACKAGE}-{VERSION}.tar.gz"
    top = f"{PACKAGE}-{VERSION}"
    with tarfile.open(sdist) as archive:
        names = {name.removeprefix(f"{top}/") for name in archive.getnames()}
    for required in ("README.md", "LICENSE", "pyproject.toml", "PKG-INFO"):
        assert required in names
    missing = {f"server/{name}" for name in package_files(src)} - names
    assert not missing, sorted(missing)
    assert not [name for name in names if name.startswith((".venv", ".ci-work", "node_modules", ".git/"))]


@pytest.mark.e2e
def test_installed_wheel_runs(venv: Path, tmp_path: Path) -> None:
    script = venv / "bin" / NAME
    version = run([str(script), "--version"], timeout=60, cwd=tmp_path)
    assert version.stdout.strip() == f"{NAME} {VERSION}"
    where = run(
        [str(venv / "bin" / "python"), "-c", f"import {PACKAGE}; print({PACKAGE}.__file__)"], timeout=60, cwd=tmp_path
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), "imported from the venv, not from this checkout"
    check = run([str(script), "--demo", "--check"], timeout=120, cwd=tmp_path)
    assert "list_refresh_jobs" in check.stdout, check.stdout


@pytest.mark.parametrize("python", ["/nonexistent/python3.12", "old", "none on PATH", "a shim that fails"])
def test_setup_refuses_a_python_it_cannot_use_saying_which(python: str, tmp_path: Path) -> None:
    """PYTHON=... that is no program, a Python older than 3.11, or none at all: one line that says which, exit 1,
    nothing made (it stops before it looks at .venv)."""
    env = {**os.environ, "PYTHON": python}
    found = "Python 3.9.6"
    if python == "old":
        old = tmp_path / "python3.9"
        old.write_text("#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Python 3.9.6'; exit 0; fi\nexit 1\n")
        old.chmod(0o755)
        env["PYTHON"] = str(old)
    elif python == "a shim that fails":  # a version manager's, for a version not installed
        shim = tmp_path / "python3"
        shim.write_text("#!/bin/sh\necho 'pyenv: python3: command not found' >&2\nexit 127\n")
        shim.chmod(0o755)
        env["PYTHON"] = str(shim)
        found = "pyenv: python3: command not found"
    elif python == "none on PATH":
        (tmp_path / "dirname").symlink_to(shutil.which("dirname") or "/usr/bin/dirname")
        env = {"PATH": str(tmp_path)}  # what the script needs but a Python
        found = "no python3 on PATH"
    done = subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(ROOT / "scripts" / "setup.sh")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.splitlines()
    if python.startswith("/nonexistent"):
        assert line == f"setup: PYTHON={python} is not a program here; give the path of a Python 3.11 (or newer)."
    else:
        assert line.startswith(f"setup: zilliz-refresh-mcp needs Python 3.11 or newer; found: {found}. Install one")


def test_setup_makes_again_a_venv_without_pip_and_says_what_a_failing_venv_needs(tmp_path: Path) -> None:
    """A .venv without pip is what ``python3 -m venv`` leaves where ensurepip is missing (Debian or Ubuntu without
    python3-venv): setup makes it again instead of failing on "No module named pip" at every run; and when making
    it fails again, it says which package to install and leaves no half-made .venv behind. Offline: the Python
    given stands for such a Debian's, whose venv makes the directory, then fails."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "setup.sh", tmp_path / "scripts" / "setup.sh")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / ".venv")], check=True, timeout=60)
    debian = tmp_path / "python3"
    debian.write_text(
        "#!/bin/sh\n"
        'if [ "$1 $2" = "-m venv" ]; then\n'
        f'  "{sys.executable}" -m venv --without-pip "$3"\n'
        "  echo 'The virtual environment was not created successfully because ensurepip is not available.' >&2\n"
        "  exit 1\n"
        "fi\n"
        f'exec "{sys.executable}" "$@"\n'
    )
    debian.chmod(0o755)
    done = subprocess.run(
        [shutil.which("bash") or "/bin/bash", str(tmp_path / "scripts" / "setup.sh")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**clean_env(), "PYTHON": str(debian), "PIP_NO_INDEX": "1"},
    )
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert done.returncode == 1 and done.stdout == "", done.stderr
    lines = done.stderr.splitlines()
    assert (
        lines[0] == f"setup: .venv has no pip (left by a python3 -m venv that failed?); making it again with {debian}"
    )
    assert "ensurepip is not available" in done.stderr and "No module named pip" not in done.stderr
    assert lines[-1] == (
        f"setup: {debian} -m venv failed (see above); on Debian or Ubuntu, install its venv module "
        f"(sudo apt install python{version}-venv), then run this again."
    )
    assert not (tmp_path / ".venv").exists()
