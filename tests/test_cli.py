"""Command-line basics shared by every sub-command."""

import subprocess
import sys

import pytest

import lossbounds
from lossbounds.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"lossbounds {lossbounds.__version__}"


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "format" in out and "bound" in out


def test_unknown_command_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["frobnicate"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "frobnicate" in err[0]


def test_non_integer_size_is_one_line_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["format", "--inputs", "2", "--width", "2.5", "--samples", "3"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--width" in err[0]


def test_python_m_entry_point():
    proc = subprocess.run(
        [sys.executable, "-m", "lossbounds", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"lossbounds {lossbounds.__version__}"
