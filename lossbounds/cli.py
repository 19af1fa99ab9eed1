"""The ``lossbounds`` command line.

Sub-commands
------------
``format``
    Pfaffian format (N, ell, alpha, beta) of a network's training loss.
``bound``
    The format plus Zell's expression (a bound only for C at least Zell's
    unknown constant), Khovanskii's bound on non-degenerate critical points
    and the symmetry group order |G|. Keys: ``log2_zell_expression``,
    ``log10_zell_expression``, ``log2_critical_points``, ..., ``group_order``.
``sweep``
    Measure every cell of a sweep spec (TOML) into a resumable results table
    (exit status 1 when some cells failed).

Bad input exits with status 2 and a single ``lossbounds <cmd>: error: ...``
line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from lossbounds import __version__

__all__ = ["main", "build_parser"]


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose errors are one line (no usage block) and exit 2."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message}\n")


def _widths_type(text: str) -> tuple[int, ...]:
    """``"5,4"`` -> (5, 4): comma-separated positive integers."""
    try:
        widths = tuple(int(part) for part in text.split(","))
    except ValueError:
        widths = ()
    if not widths or min(widths) < 1:
        raise argparse.ArgumentTypeError(
            f"must be comma-separated positive integers such as 5,4, got {text!r}"
        )
    return widths


def _add_architecture_arguments(p: argparse.ArgumentParser) -> None:
    """Arguments shared by ``format`` and ``bound`` (one network architecture)."""
    p.add_argument("--inputs", type=int, required=True, metavar="N", help="input dimension n")
    sizes = p.add_mutually_exclusive_group(required=True)
    sizes.add_argument("--width", type=int, metavar="H", help="width h of every hidden layer")
    sizes.add_argument(
        "--widths",
        type=_widths_type,
        metavar="H1,H2,...",
        help="the width of each hidden layer, e.g. 5,4 (instead of --width/--hidden-layers)",
    )
    p.add_argument(
        "--hidden-layers",
        type=int,
        default=None,
        metavar="K",
        help="number of hidden layers with --width (L = K + 1 weight layers; K = 1 is "
        "shallow); default 1",
    )
    p.add_argument(
        "--samples", type=int, required=True, metavar="M", help="number of training samples m"
    )
    p.add_argument(
        "--activation",
        default="sigmoid",
        metavar="NAME",
        help="Pfaffian activation from the catalogue (default sigmoid)",
    )
    p.add_argument("--output", default="linear", choices=["linear", "sigmoid"], help="output unit")
    p.add_argument(
        "--loss", default="mse", choices=["mse", "bce", "cross_entropy"], help="training loss"
    )
    p.add_argument(
        "--classes",
        type=int,
        default=1,
        metavar="C",
        help="number of outputs C (classes for --loss cross_entropy, C >= 2); default 1",
    )
    p.add_argument("--no-bias", action="store_true", help="layers without bias vectors")
    p.add_argument("--l2", action="store_true", help="add an l2 term lambda*||theta||^2")
    p.add_argument(
        "--skip",
        default=None,
        choices=["identity", "projection"],
        help="skip connections between consecutive hidden layers",
    )
    p.add_argument(
        "--chain",
        default="default",
        metavar="NAME",
        help="Pfaffian chain of the activation the format is computed on (default: the "
        "catalogue chain; 'value' puts swish(a) or GELU(a) itself into the chain)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


# Library argument name -> command-line flag, so errors name what the user typed.
_FLAGS = {
    "n_inputs": "--inputs",
    "width": "--width",
    "hidden_layers": "--hidden-layers",
    "widths": "--widths",
    "n_samples": "--samples",
    "activation": "--activation",
    "output": "--output",
    "loss": "--loss",
    "skip": "--skip",
    "chain": "--chain",
    "n_outputs": "--classes",
}
_FLAG_RE = re.compile(r"\b(" + "|".join(_FLAGS) + r")\b(?=\s*(?:=|>=|must|'))")


def _flagify(message: str) -> str:
    """Rewrite library argument names in ``message`` as the flags of this command."""
    return _FLAG_RE.sub(lambda m: _FLAGS[m.group(1)], message)


def _architecture(args):
    """Return the :class:`~lossbounds.theory.architecture.Architecture` the flags describe.

    Raises
    ------
    ValueError
        One line naming the offending flag (``--hidden-layers`` with ``--widths``,
        or whatever :meth:`Architecture.from_flat` refuses).
    """
    from lossbounds.theory.architecture import Architecture

    if args.widths is not None and args.hidden_layers is not None:
        raise ValueError("--hidden-layers goes with --width; --widths gives one width per layer")
    flat = {
        "inputs": args.inputs,
        "width": args.width,
        "hidden_layers": 1 if args.hidden_layers is None else args.hidden_layers,
        "widths": args.widths,
        "samples": args.samples,
        "activation": args.activation,
        "output": args.output,
        "loss": args.loss,
        "l2": args.l2,
        "skip": args.skip,
        "chain": args.chain,
        "classes": args.classes,
        "bias": not args.no_bias,
    }
    try:
        return Architecture.from_flat(flat)
    except ValueError as exc:
        raise ValueError(_flagify(str(exc))) from None


def _print_table(rows: dict) -> None:
    """Print ``key  value`` lines, keys left-aligned to the longest."""
    width = max(len(k) for k in rows)
    for key, value in rows.items():
        print(f"{key:<{width}}  {value}")


def _cmd_format(args) -> int:
    """Print the Pfaffian format of the flags' architecture (table or JSON); return 0."""
    from lossbounds.theory.formats import loss_format

    fmt = loss_format(_architecture(args))
    data = fmt.as_dict()
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        _print_table(data)
    return 0


def _cmd_bound(args) -> int:
    """Print :func:`~lossbounds.theory.bounds.bound_summary` with ``--constant`` (table or JSON); return 0.

    Floats are printed with 6 decimals in the table; exact integers and |G| (a
    string, it can exceed any float) unchanged.
    """
    from lossbounds.theory.bounds import bound_summary

    data = bound_summary(_architecture(args), constant=args.constant)
    if args.json:
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        # fixed format for the logs; exact integers (and |G| as a string) unchanged
        _print_table({k: f"{v:.6f}" if isinstance(v, float) else v for k, v in data.items()})
    return 0


def _cmd_sweep(args) -> int:
    """Run :func:`~lossbounds.experiments.run.run_sweep` on ``SPEC`` into ``--out``.

    Returns 0 when every cell was measured, 1 when some failed (listed in
    ``failures.csv`` beside the table, retried by a re-run).
    """
    from lossbounds.experiments.run import run_sweep

    report = run_sweep(
        args.spec,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        progress=not args.quiet,
    )
    if report.n_failed:
        print(
            f"lossbounds sweep: {report.n_failed} of {report.n_cells} cells failed; "
            f"see {report.path.parent / 'failures.csv'} (a re-run retries them)",
            file=sys.stderr,
        )
        return 1
    return 0


def _add_sweep_parser(sub) -> None:
    """Add the ``sweep`` sub-command's parser (see :func:`lossbounds.experiments.run.run_sweep`)."""
    p = sub.add_parser("sweep", help="measure every cell of a sweep spec into DIR/results.csv")
    p.add_argument("spec", metavar="SPEC", help="sweep spec, a TOML file (see sweeps/example.toml)")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (resumed)")
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="local dask worker processes, 1 thread each (default: one per core; "
        "0: run in this process without dask)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        help="address of a running dask scheduler (e.g. a dask-jobqueue SLURMCluster's)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar or status lines")
    p.set_defaults(func=_cmd_sweep)


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``lossbounds`` command."""
    parser = _Parser(
        prog="lossbounds",
        description="Pfaffian formats and Betti-number bounds for neural-network loss surfaces.",
    )
    parser.add_argument("--version", action="version", version=f"lossbounds {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p_format = sub.add_parser("format", help="Pfaffian format (N, ell, alpha, beta) of the loss")
    _add_architecture_arguments(p_format)
    p_format.set_defaults(func=_cmd_format)

    p_bound = sub.add_parser(
        "bound", help="Zell's expression, Khovanskii's bound and |G| for the loss"
    )
    _add_architecture_arguments(p_bound)
    p_bound.add_argument(
        "--constant",
        type=float,
        default=1.0,
        metavar="C",
        help="the constant hidden in Zell's O(.) (default 1); Zell's expression is a bound "
        "only for C at least the theorem's unknown constant",
    )
    p_bound.set_defaults(func=_cmd_bound)
    _add_sweep_parser(sub)
    return parser


def main(argv=None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 success (or help), 1 some sweep cells failed, 2 bad
        input (one ``lossbounds <cmd>: error: ...`` line on stderr).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except ValueError as exc:
        # Library errors name the argument; show them as one line, exit 2.
        print(f"lossbounds {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
