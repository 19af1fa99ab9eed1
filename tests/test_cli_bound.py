"""Tests of ``lossbounds bound``: JSON keys and values, table output, exit status 2."""

import json
import math
import subprocess
import sys

import pytest

from lossbounds.cli import main

BASE = ["bound", "--inputs", "2", "--width", "3", "--samples", "10"]

KEYS = {
    "log2_zell_expression",
    "log10_zell_expression",
    "log2_critical_points",
    "log10_critical_points",
    "group_order",
    "log2_group_order",
}


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_bound_json_keys_and_values(capsys):
    from lossbounds.theory.architecture import Architecture
    from lossbounds.theory.formats import loss_format

    data = _json(capsys, [*BASE, "--json"])
    fmt = loss_format(Architecture(n_inputs=2, width=3, hidden_layers=1, n_samples=10))
    assert KEYS <= set(data)
    # Zell's value with C = 1 is an expression, not a bound: no key calls it "upper"
    assert not any("upper" in key for key in data)
    assert set(fmt.as_dict()) <= set(data)
    # Shallow sigmoid, linear output, MSE (docs/theory.md): N = h(n+1) + h + 1 = 13,
    # ell = m h = 30, alpha = 2, beta = 4; hand-typed, exact integers.
    n, ell, alpha, beta = 13, 30, 2, 4
    zell = 2**n * 2 ** (ell * (ell - 1) // 2) * (n * beta + min(n, ell) * alpha) ** (n + ell)
    assert data["log2_zell_expression"] == pytest.approx(math.log2(zell), rel=1e-14)
    assert data["log10_zell_expression"] == pytest.approx(math.log10(zell), rel=1e-14)
    bp = beta + alpha - 1
    crit = 2 ** (ell * (ell - 1) // 2) * bp**n * (n * bp - n + min(n, ell) * alpha + 1) ** ell
    assert data["log2_critical_points"] == pytest.approx(math.log2(crit), rel=1e-14)
    assert data["log10_critical_points"] == pytest.approx(math.log10(crit), rel=1e-14)
    # |G| = 2^3 * 3! = 48 for one sigmoid layer of width 3
    assert data["group_order"] == "48"
    assert data["log2_group_order"] == pytest.approx(math.log2(48), rel=1e-14)


def test_bound_constant_shifts_by_n_plus_ell(capsys):
    base = _json(capsys, [*BASE, "--json"])
    doubled = _json(capsys, [*BASE, "--json", "--constant", "2"])
    assert doubled["log2_zell_expression"] - base["log2_zell_expression"] == pytest.approx(
        13 + 30, rel=1e-12
    )
    assert doubled["log2_critical_points"] == base["log2_critical_points"]  # constant-free


def test_bound_deep_symmetry_string_is_exact(capsys):
    data = _json(capsys, [*BASE[:-2], "--samples", "5", "--hidden-layers", "3", "--json"])
    assert data["group_order"] == str(48**3)


def test_bound_table_lists_every_key(capsys):
    assert main(BASE) == 0
    out = capsys.readouterr().out
    rows = dict(line.split() for line in out.strip().splitlines())
    assert KEYS <= set(rows)
    assert rows["group_order"] == "48"
    assert rows["log2_group_order"] == f"{math.log2(48):.6f}"  # fixed format


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--width", "0"], "width"),
        (["--activation", "relu"], "relu"),
        (["--constant", "0"], "constant"),
        (["--constant", "-1"], "constant"),
    ],
)
def test_bound_bad_input_exits_2_with_one_line(capsys, extra, match):
    assert main([*BASE, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lossbounds bound: error:")
    assert match in err
    assert err.count("\n") == 1


def test_bound_missing_argument_exits_2():
    with pytest.raises(SystemExit) as info:
        main(["bound", "--inputs", "2", "--width", "3"])
    assert info.value.code == 2


def test_bound_as_a_process():
    cmd = [sys.executable, "-m", "lossbounds", *BASE, "--json"]
    ok = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert ok.returncode == 0
    assert KEYS <= set(json.loads(ok.stdout))
    bad = subprocess.run([*cmd, "--width", "-3"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr


def test_bound_with_widths(capsys):
    data = _json(capsys, ["bound", "--inputs", "3", "--widths", "5,4", "--samples", "2", "--json"])
    # N = (3+1)5 + (5+1)4 + (4+1) = 49, ell = 2 (5 + 4) = 18, |G| = 2^5 5! 2^4 4!
    assert (data["n_params"], data["chain_length"]) == (49, 18)
    assert data["group_order"] == str(2**9 * 120 * 24)
    short = _json(capsys, ["bound", "--inputs", "3", "--width", "4", "--hidden-layers", "2",
                           "--samples", "2", "--json"])  # fmt: skip
    same = _json(capsys, ["bound", "--inputs", "3", "--widths", "4,4", "--samples", "2", "--json"])
    assert same == short
