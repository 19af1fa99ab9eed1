"""Tests for ``lossbounds format`` (the Pfaffian format on the command line)."""

import json
import subprocess
import sys

import pytest

from lossbounds.cli import main

KEYS = {"n_params", "chain_length", "chain_degree", "loss_degree"}


def _json(capsys, *args):
    assert main(["format", *args, "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    data = json.loads(out)
    assert set(data) == KEYS
    return data


# Hand-derived, K hidden layers: N = h(n+1) + (K-1)h(h+1) + (h+1), ell = m h K (+ m per
# output chain element), alpha = 3K - 1 (linear output) or 3K + 2 (sigmoid output unit in
# the chain), beta = 4 (linear MSE) or 2.
@pytest.mark.parametrize(
    "args, expected",
    [
        (
            ["--inputs", "2", "--width", "3", "--hidden-layers", "2", "--samples", "5"],
            {"n_params": 25, "chain_length": 30, "chain_degree": 5, "loss_degree": 4},
        ),
        (
            ["--inputs", "1", "--width", "4", "--samples", "10", "--activation", "TANH"],
            {"n_params": 13, "chain_length": 40, "chain_degree": 2, "loss_degree": 4},
        ),
        (
            ["--inputs", "3", "--width", "2", "--hidden-layers", "3", "--samples", "7",
             "--output", "sigmoid"],
            {"n_params": 23, "chain_length": 49, "chain_degree": 11, "loss_degree": 2},
        ),
        (
            ["--inputs", "3", "--width", "2", "--hidden-layers", "3", "--samples", "7",
             "--output", "sigmoid", "--loss", "bce", "--l2"],
            {"n_params": 23, "chain_length": 56, "chain_degree": 11, "loss_degree": 2},
        ),
        (
            ["--inputs", "2", "--width", "3", "--hidden-layers", "2", "--samples", "5",
             "--skip", "identity", "--l2"],
            {"n_params": 25, "chain_length": 30, "chain_degree": 5, "loss_degree": 4},
        ),
        (  # projection: + h^2 per skip; u_2 = sigma(a_2) + P u_1 has degree 2, z degree 3
            ["--inputs", "2", "--width", "3", "--hidden-layers", "2", "--samples", "5",
             "--skip", "projection"],
            {"n_params": 34, "chain_length": 30, "chain_degree": 5, "loss_degree": 6},
        ),
        (  # arctan: two chain elements per unit; alpha = 2K + 2 for K >= 2
            ["--inputs", "1", "--width", "2", "--hidden-layers", "3", "--samples", "2",
             "--activation", "arctan"],
            {"n_params": 19, "chain_length": 24, "chain_degree": 8, "loss_degree": 4},
        ),
        (  # swish with swish(a) in the chain: alpha = 3K - 1, beta = 4, ell = 2 m h K
            ["--inputs", "2", "--width", "2", "--hidden-layers", "3", "--samples", "1",
             "--activation", "swish", "--chain", "value"],
            {"n_params": 21, "chain_length": 12, "chain_degree": 8, "loss_degree": 4},
        ),
    ],
)  # fmt: skip
def test_format_json(capsys, args, expected):
    assert _json(capsys, *args) == expected


def test_format_table(capsys):
    assert main(["format", "--inputs", "2", "--width", "3", "--hidden-layers", "2",
                 "--samples", "5"]) == 0  # fmt: skip
    out, err = capsys.readouterr()
    assert err == ""
    rows = dict(line.split() for line in out.strip().splitlines())
    assert rows == {"n_params": "25", "chain_length": "30", "chain_degree": "5", "loss_degree": "4"}


BASE = ["--inputs", "2", "--width", "3", "--hidden-layers", "2", "--samples", "5"]


def _with(**changes):
    args = list(BASE)
    for flag, value in changes.items():
        flag = "--" + flag.replace("_", "-")
        if flag in args:
            args[args.index(flag) + 1] = value
        else:
            args += [flag] if value is None else [flag, value]
    return args


WIDTHS = ["--inputs", "3", "--samples", "2", "--activation", "tanh", "--widths", "5,4"]


def _widths(text):
    return ["--inputs", "3", "--samples", "2", "--widths", text]


def test_format_widths(capsys):
    # N = (3+1)5 + (5+1)4 + (4+1) = 49, ell = m (5 + 4) = 18; degrees as for K = 2
    assert _json(capsys, *WIDTHS) == {
        "n_params": 49,
        "chain_length": 18,
        "chain_degree": 5,
        "loss_degree": 4,
    }
    # the shorthand and the per-layer form agree
    short = _json(capsys, "--inputs", "2", "--width", "3", "--hidden-layers", "2", "--samples", "5")
    assert _json(capsys, "--inputs", "2", "--widths", "3,3", "--samples", "5") == short


@pytest.mark.parametrize(
    "args, name",
    [
        (_with(width="0"), "--width"),
        (_with(width="-3"), "--width"),
        (_with(width="2.5"), "--width"),
        (_with(inputs="0"), "--inputs"),
        (_with(samples="-1"), "--samples"),
        (_with(hidden_layers="0"), "--hidden-layers"),
        (_with(hidden_layers="1.5"), "--hidden-layers"),
        (_with(activation="relu"), "relu"),
        (_with(activation="wavelet"), "--activation"),
        (_with(loss="bce"), "bce"),
        (_with(output="softmax"), "--output"),
        (_with(skip="dense"), "--skip"),
        (_with(chain="value"), "--chain must be one of 'default'"),
        (_with(hidden_layers="1", skip="identity"), "--hidden-layers >= 2"),
        (["--inputs", "2", "--width", "3"], "samples"),  # missing required argument
        (["--inputs", "2", "--samples", "3"], "one of the arguments --width --widths"),
        ([*BASE, "--widths", "3,3"], "--widths: not allowed with argument --width"),
        (WIDTHS + ["--hidden-layers", "2"], "--hidden-layers goes with --width"),
        (_widths("5,x"), "--widths: must be comma-separated positive integers"),
        (_widths("5,0"), "--widths: must be comma-separated positive integers"),
        (_widths("5,,4"), "--widths: must be comma-separated positive integers"),
        (_widths(""), "--widths: must be comma-separated positive integers"),
        (_widths("5,4") + ["--skip", "projection"], "needs equal widths, got --widths=(5, 4)"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, args, name):
    with pytest.raises(SystemExit) as info:  # argparse errors exit from parse_args
        status = main(["format", *args])
        raise SystemExit(status)
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lossbounds format: error:")
    assert name in lines[0]
    assert "Traceback" not in err


def test_relu_message_says_why(capsys):
    assert main(["format", *_with(activation="ReLU")]) == 2
    err = capsys.readouterr().err
    assert "not Pfaffian" in err and "not analytic" in err


def test_subprocess_entry_point():
    ok = subprocess.run(
        [sys.executable, "-m", "lossbounds", "format", *BASE, "--json"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["chain_degree"] == 5
    bad = subprocess.run(
        [sys.executable, "-m", "lossbounds", "format", *_with(width="0")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr.strip().splitlines() == [
        "lossbounds format: error: --width must be a positive integer, got 0"
    ]
