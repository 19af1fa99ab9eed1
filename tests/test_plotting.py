import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from lossbounds.plot import figures_dir, new_axis, save_figure  # noqa: E402


def test_save_figure_writes_pdf_and_png(tmp_path, monkeypatch):
    monkeypatch.setenv("LOSSBOUNDS_FIGURES", str(tmp_path / "figs"))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    paths = save_figure(fig, "99_test")
    plt.close(fig)
    assert [p.name for p in paths] == ["99_test.pdf", "99_test.png"]
    assert (tmp_path / "figs" / "99_test.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "figs" / "99_test.png").read_bytes()[:4] == b"\x89PNG"


def test_figures_dir_finds_project_root(monkeypatch, tmp_path):
    monkeypatch.delenv("LOSSBOUNDS_FIGURES", raising=False)
    root = tmp_path / "proj"
    (root / "lossbounds").mkdir(parents=True)
    (root / "notebooks").mkdir()
    (root / "pyproject.toml").write_text("")
    monkeypatch.chdir(root / "notebooks")
    assert figures_dir() == (root / "figures").resolve()


@pytest.mark.parametrize("stem", ["", "a/b", "..\\x"])
def test_save_figure_rejects_bad_stem(stem):
    fig = plt.figure()
    with pytest.raises(ValueError, match="stem"):
        save_figure(fig, stem)
    plt.close(fig)


def test_save_figure_rejects_bad_format(tmp_path, monkeypatch):
    monkeypatch.setenv("LOSSBOUNDS_FIGURES", str(tmp_path))
    fig = plt.figure()
    with pytest.raises(ValueError, match="formats"):
        save_figure(fig, "x", formats=("gif",))
    plt.close(fig)


def test_new_axis_reuses_given_axis():
    fig, ax = plt.subplots()
    assert new_axis(ax) is ax
    other = new_axis()
    assert other is not ax
    plt.close("all")


def test_plot_segment_scans_draws_one_curve_per_segment_and_the_level():
    import numpy as np

    from lossbounds.plot import plot_segment_scans

    ts = np.linspace(0.0, 1.0, 11)
    vals = 1.0 + np.outer([1.0, 2.0, 3.0], np.sin(np.pi * ts))  # 3 segments, equal ends
    ax = plot_segment_scans(ts, vals, baseline=1.0, level=1.5)
    assert len(ax.lines) == 4  # 3 segments + the level line
    assert ax.get_yscale() == "log"
    # ends equal the baseline: drawn at the floor, not at 0
    assert ax.lines[0].get_ydata()[0] == 1e-12
    assert ax.lines[-1].get_ydata()[0] == 0.5
    plt.close("all")


def test_plot_segment_scans_rejects_bad_shapes():
    import numpy as np

    from lossbounds.plot import plot_segment_scans

    with pytest.raises(ValueError, match="values must have shape"):
        plot_segment_scans(np.linspace(0, 1, 5), np.zeros((2, 4)))
    with pytest.raises(ValueError, match="floor"):
        plot_segment_scans(np.linspace(0, 1, 5), np.ones((2, 5)), floor=0.0)
    plt.close("all")


def test_plot_orbit_slice_marks_points_and_draws_the_level():
    import numpy as np

    from lossbounds.plot import plot_orbit_slice
    from lossbounds.topology.slices import PlaneSlice

    a = np.linspace(-1.0, 1.0, 21)
    b = np.linspace(-1.0, 1.0, 11)
    vals = 2.0 + a[:, None] ** 2 + b[None, :] ** 2
    sl = PlaneSlice(a, b, vals, np.zeros(2), np.eye(2)[0], np.eye(2)[1])
    ax = plot_orbit_slice(sl, baseline=2.0, level=2.5, points=[[0.0, 0.0]])
    (marker,) = ax.lines
    assert marker.get_xdata()[0] == 0.0 and marker.get_ydata()[0] == 0.0
    assert len(ax.collections) >= 2  # filled contours and the sublevel boundary
    with pytest.raises(ValueError, match="shape"):
        plot_orbit_slice(PlaneSlice(a, b, vals.T, None, None, None), baseline=0.0)
    plt.close("all")


def _estimates():
    from lossbounds.experiments.claims import CellEstimate
    from lossbounds.experiments.stats import Estimate

    out = []
    for w, k in ((4, 1), (2, 2)):
        for m in (10, 20, 40):
            est = Estimate(float(m * k), m * k - 1.0, m * k + 2.0, 20, 0.95)
            out.append(CellEstimate({"width": w, "hidden_layers": k, "samples": m}, est))
    return out


def test_plot_estimates_draws_one_line_per_group_with_intervals():
    from lossbounds.plot import plot_estimates

    ax = plot_estimates(_estimates(), "samples", ("width", "hidden_layers"), ylabel="n")
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["width = 2, hidden_layers = 2", "width = 4, hidden_layers = 1"]
    assert len(ax.containers) == 2 and ax.get_xscale() == "log"
    # the deep line (sorted first) holds the values m * 2 at its three points
    y = ax.containers[0].lines[0].get_ydata()
    assert list(y) == [20.0, 40.0, 80.0]
    assert ax.get_xlabel() == "samples" and ax.get_ylabel() == "n"
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="at least one"):
        plot_estimates([], "samples")


def test_plot_paired_tests_and_bound_vs_measured():
    from lossbounds.experiments.stats import paired_test, spearman_ci
    from lossbounds.plot import plot_bound_vs_measured, plot_paired_tests

    t = paired_test([1.0, 2.0, 3.0, 4.0], [0.0, 0.5, 1.0, 1.0])
    ax = plot_paired_tests({"deep vs shallow": t})
    assert "p = " in ax.get_yticklabels()[0].get_text()
    assert sorted(x.get_text() for x in ax.get_legend().get_texts()) == [
        "mean difference, 95 % interval",
        "no difference",
    ]
    plt.close(ax.figure)
    est = _estimates()
    rho = spearman_ci([1, 2, 3, 4, 5, 6], [e.estimate.value for e in est])
    groups = [f"m = {e.setting['samples']}" for e in est]
    ax = plot_bound_vs_measured([1, 2, 3, 4, 5, 6], est, correlation=rho, groups=groups)
    # values 10 20 40 20 40 80: ranks 1 2.5 4.5 2.5 4.5 6 against 1..6, rho = 14.5 / sqrt(17.5 * 16.5)
    assert ax.get_title().startswith("Spearman rho = 0.85")
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["m = 10", "m = 20", "m = 40"] and len(ax.containers) == 3
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="one value per estimate"):
        plot_bound_vs_measured([1, 2], est)


def test_plot_orbit_slice_names_the_axes_by_slice_coordinates():
    import numpy as np

    from lossbounds.plot import plot_orbit_slice
    from lossbounds.topology.slices import PlaneSlice

    a = np.linspace(-1.0, 1.0, 5)
    sl = PlaneSlice(a, a, 1.0 + np.add.outer(a**2, a**2), np.zeros(2), np.eye(2)[0], np.eye(2)[1])
    ax = plot_orbit_slice(sl, baseline=1.0)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("a (along d1)", "b (along d2)")
    ax = plot_orbit_slice(sl, baseline=1.0, axis_labels=("u", "v"))
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("u", "v")
    plt.close("all")


def test_plot_bound_gap_draws_no_band_and_marks_only_certified_points():
    import numpy as np

    from lossbounds.plot import plot_bound_gap

    x = np.array([1.0, 2.0, 4.0])
    ax = plot_bound_gap(
        x, [10.0, 20.0, 40.0], [1.0, 2.0, 3.0], extra={"Khovanskii": [9.0, 19.0, 39.0]}
    )
    assert len(ax.collections) == 0  # no band between the curves
    labels = [line.get_label() for line in ax.lines]
    assert labels == ["Zell expression (C = 1)", "Khovanskii", "|G| (group order)"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == labels
    ax = plot_bound_gap(
        x,
        [10.0, 20.0, 40.0],
        [1.0, 2.0, 3.0],
        certified=[True, False, False],
        legend_loc="upper left",
    )
    assert ax.get_legend()._loc == 2  # matplotlib's code of "upper left"
    marked = ax.lines[-1]
    assert marked.get_label() == "|G|: certified lower bound on b0"
    assert list(marked.get_xdata()) == [1.0] and list(marked.get_ydata()) == [1.0]
    plt.close("all")


def test_plot_bound_gap_rejects_mismatched_shapes():
    from lossbounds.plot import plot_bound_gap

    with pytest.raises(ValueError, match="must have shape"):
        plot_bound_gap([1.0, 2.0], [1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="must have shape"):
        plot_bound_gap([1.0, 2.0], [1.0, 2.0], [1.0, 2.0], certified=[True])
    plt.close("all")


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (bytes 16-24, big-endian)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_save_figure_outside_a_kernel_displays_nothing_and_keeps_the_figure(tmp_path, monkeypatch):
    from lossbounds.plot import in_kernel

    monkeypatch.setenv("LOSSBOUNDS_FIGURES", str(tmp_path))
    assert not in_kernel()
    fig = plt.figure()
    save_figure(fig, "x", formats=("png",))
    assert plt.fignum_exists(fig.number)  # only a kernel closes it after display
    plt.close(fig)


def test_save_figure_rejects_bad_display_dpi(tmp_path, monkeypatch):
    monkeypatch.setenv("LOSSBOUNDS_FIGURES", str(tmp_path))
    fig = plt.figure()
    with pytest.raises(ValueError, match="display_dpi"):
        save_figure(fig, "x", formats=("png",), display_dpi=0)
    plt.close(fig)


@pytest.mark.parametrize(
    ("backend", "expected"),
    [("Agg", [0, 1, 0, 0]), (None, [0, 1, 1, 0])],
    ids=["agg-as-make-test", "inline-as-make-figures"],
)
def test_save_figure_embeds_one_png_per_figure_in_an_executed_notebook(
    tmp_path, monkeypatch, backend, expected
):
    """A notebook run by nbclient gets one image/png output per save_figure call, at
    display_dpi, under Agg (`make test`) and under the kernel's inline backend (`make
    figures`), even when the cell also calls plt.show(). With display=False nothing is
    embedded by save_figure: under inline the backend itself shows the open figure."""
    import base64

    import nbformat
    from nbclient import NotebookClient

    cells = [
        "import matplotlib.pyplot as plt\nfrom lossbounds.plot import save_figure",
        # 4 x 3 inches at display_dpi 50: at most 200 x 150 pixels after the tight crop
        "fig, ax = plt.subplots(figsize=(4, 3))\nax.plot([0, 1], [1, 0], label='a')\n"
        "ax.legend()\n_ = save_figure(fig, '99_a', formats=('png',), display_dpi=50)\nplt.show()",
        "fig, ax = plt.subplots()\n_ = save_figure(fig, '99_b', formats=('png',), display=False)",
        "print('no figure here')",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in cells])
    if backend is None:
        monkeypatch.delenv("MPLBACKEND", raising=False)
    else:
        monkeypatch.setenv("MPLBACKEND", backend)  # the kernel inherits the environment
    monkeypatch.setenv("LOSSBOUNDS_FIGURES", str(tmp_path / "figs"))
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    images = [[o for o in cell.outputs if "image/png" in o.get("data", {})] for cell in nb.cells]
    assert [len(i) for i in images] == expected
    width, height = _png_size(base64.b64decode(images[1][0]["data"]["image/png"]))
    assert 100 <= width <= 200 and 75 <= height <= 150, (width, height)
    assert (tmp_path / "figs" / "99_a.png").exists() and (tmp_path / "figs" / "99_b.png").exists()
