"""Packaging consistency: environment.yml, constraints.txt and pyproject agree."""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def _environment_pins() -> dict[str, str]:
    yaml = pytest.importorskip("yaml")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pins = {}
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        for item in items:
            m = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*={1,2}\s*([0-9][^\s]*)", item)
            if m and m.group(1) != "python":
                pins[m.group(1).lower()] = m.group(2)
    return pins


def test_environment_pins_match_constraints():
    constraints = _constraints()
    env = _environment_pins()
    assert env, "environment.yml pins nothing"
    mismatched = {k: (v, constraints.get(k)) for k, v in env.items() if constraints.get(k) != v}
    assert not mismatched, f"environment.yml vs constraints.txt: {mismatched}"


def test_torch_is_pinned_to_the_cpu_build():
    assert _constraints()["torch"] == "2.13.0"


def test_every_runtime_dependency_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    deps = project["dependencies"] + extras["dev"] + extras["docs"]
    names = {re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0].lower() for d in deps}
    missing = names - set(_constraints())
    assert not missing, f"not pinned in constraints.txt: {sorted(missing)}"


WINGS = ("theory", "landscape", "topology", "experiments", "plot")


def test_package_docstring_lists_every_wing_once():
    import lossbounds

    listed = re.findall(r":mod:`lossbounds\.(\w+)`", lossbounds.__doc__)
    package = Path(lossbounds.__file__).parent
    wings = sorted(p.name for p in package.iterdir() if (p / "__init__.py").exists())
    assert sorted(set(listed) - {"cli"}) == wings == sorted(WINGS)
    assert len(listed) == len(set(listed))


@pytest.mark.parametrize("wing", WINGS)
def test_every_public_name_of_a_wing_resolves(wing):
    import importlib

    module = importlib.import_module(f"lossbounds.{wing}")
    assert module.__all__, wing
    for name in module.__all__:
        assert getattr(module, name) is not None, f"lossbounds.{wing}.{name}"


def _imports_in_subprocess(code: str) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return out.stdout.strip()


def test_import_lossbounds_and_theory_stay_torch_free():
    code = (
        "import sys, lossbounds, lossbounds.theory as T\n"
        "lossbounds.Architecture, lossbounds.loss_format, lossbounds.bound_summary\n"
        "for name in T.__all__: getattr(T, name)\n"
        "import lossbounds.theory.certificates, lossbounds.theory.groups\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib')))"
    )
    assert _imports_in_subprocess(code) == "[]"


def test_top_level_names_are_lazy_and_resolve():
    import lossbounds

    for name in lossbounds.__all__:
        assert getattr(lossbounds, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute"):
        lossbounds.not_a_name  # noqa: B018


def test_imports_point_downward_only():
    """theory imports no other wing; landscape only theory; topology not experiments/plot."""
    allowed = {
        "theory": set(),
        "landscape": {"theory"},
        "topology": {"theory", "landscape"},
        "experiments": {"theory", "landscape", "topology"},
        "plot": {"theory", "landscape", "topology", "experiments"},
    }
    package = ROOT / "lossbounds"
    bad = []
    for wing, ok in allowed.items():
        for path in (package / wing).glob("*.py"):
            for other in re.findall(
                r"^\s*(?:from|import) lossbounds\.(\w+)", path.read_text(), re.M
            ):
                if other in allowed and other != wing and other not in ok:
                    bad.append(f"{path.relative_to(ROOT)} imports lossbounds.{other}")
    assert not bad, bad


@pytest.mark.parametrize("wing", WINGS)
def test_every_module_of_a_wing_has_an_api_section(wing):
    page = (ROOT / "docs" / "api" / f"{wing}.md").read_text()
    modules = sorted(p.stem for p in (ROOT / "lossbounds" / wing).glob("[!_]*.py"))
    missing = [m for m in modules if f"automodule:: lossbounds.{wing}.{m}\n" not in page]
    assert not missing, f"docs/api/{wing}.md lacks {missing}"
