import pytest

from lossbounds.config import pick, quick_mode


@pytest.mark.parametrize("raw", ["1", "true", "YES", " on "])
def test_quick_mode_true(monkeypatch, raw):
    monkeypatch.setenv("LOSSBOUNDS_QUICK", raw)
    assert quick_mode() is True
    assert pick(full=100, quick=10) == 10


@pytest.mark.parametrize("raw", ["0", "false", "", "off"])
def test_quick_mode_false(monkeypatch, raw):
    monkeypatch.setenv("LOSSBOUNDS_QUICK", raw)
    assert quick_mode() is False
    assert pick(full=100, quick=10) == 100


def test_quick_mode_unset(monkeypatch):
    monkeypatch.delenv("LOSSBOUNDS_QUICK", raising=False)
    assert quick_mode() is False


def test_quick_mode_rejects_garbage(monkeypatch):
    monkeypatch.setenv("LOSSBOUNDS_QUICK", "maybe")
    with pytest.raises(ValueError, match="LOSSBOUNDS_QUICK"):
        quick_mode()
