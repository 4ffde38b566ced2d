"""What a user installs: every module in the package, the console script working from anywhere.

Under tox (as CI runs it) the suite is a copy outside the checkout and imports the built wheel, so these
tests see exactly what ``pip install .`` gives a user.
"""

from __future__ import annotations

import importlib.metadata
import os
import pathlib
import subprocess

import pytest

import ec2proxy
import metadata
from tests.support import ROOT, Server, ec2proxy_command

PACKAGES = ("ec2proxy", "metadata")


def _from_source(package) -> bool:
    """Is ``package`` imported from the checkout's own source folder (not from an installation)?"""
    return pathlib.Path(package.__file__).parent.resolve() == (ROOT / package.__name__).resolve()


def test_the_suite_imports_the_installed_package_when_tox_runs_it():
    if not os.environ.get("EC2PROXY_TEST_CHECKOUT"):
        pytest.skip("run from the checkout (not through tox): the package may be the source tree itself")
    for package in (ec2proxy, metadata):
        assert not _from_source(package), package.__file__


def test_the_installed_package_holds_every_module_of_the_source():
    if _from_source(ec2proxy):
        pytest.skip("the package is the checkout itself (an editable install); tox tests the built wheel")
    files = {str(f) for f in importlib.metadata.files("ec2proxy") or ()}
    wanted = sorted(str(p.relative_to(ROOT)) for package in PACKAGES for p in (ROOT / package).rglob("*.py")
                    if "__pycache__" not in p.parts)
    assert len(wanted) > 80, wanted
    missing = [name for name in wanted if name not in files]
    assert not missing, f"not in the installed package: {missing}"
    stale = sorted(name for name in files if name.endswith(".py") and name.split("/")[0] in PACKAGES
                   and name not in wanted and "/migrations/" not in name)
    assert not stale, f"modules the source no longer has (a stale build/ folder? remove it): {stale}"


def test_every_folder_of_modules_is_a_package():
    """``packages = find:`` leaves out a folder without __init__.py; migrations are package data."""
    for package in PACKAGES:
        for folder in {p.parent for p in (ROOT / package).rglob("*.py")}:
            if "__pycache__" in folder.parts or "migrations" in folder.parts:
                continue
            assert (folder / "__init__.py").exists(), folder


def test_the_command_runs_from_an_empty_directory(tmp_path):
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    result = subprocess.run([*ec2proxy_command(), "--version"], cwd=elsewhere, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"ec2proxy {ec2proxy.__version__}", result
    assert importlib.metadata.version("ec2proxy") == ec2proxy.__version__


def test_serve_started_elsewhere_answers_the_aws_cli(tmp_path, monkeypatch):
    elsewhere = tmp_path / "empty"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    server = Server(tmp_path / "data").start()
    try:
        regions = server.aws("ec2", "describe-regions", "--output", "json").stdout
        assert '"RegionName": "RegionOne"' in regions
    finally:
        server.stop()
