import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from lossbounds.plotting import figures_dir, new_axis, save_figure  # noqa: E402


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
