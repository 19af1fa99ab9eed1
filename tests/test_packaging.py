"""Packaging consistency: environment.yml, constraints.txt and pyproject agree."""

import re
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
    deps = project["dependencies"] + project["optional-dependencies"]["dev"]
    names = {re.split(r"[<>=!~\[ ]", d, maxsplit=1)[0].lower() for d in deps}
    missing = names - set(_constraints())
    assert not missing, f"not pinned in constraints.txt: {sorted(missing)}"


def test_package_docstring_lists_every_module_once():
    import lossbounds

    listed = re.findall(r"^- :mod:`lossbounds\.(\w+)`", lossbounds.__doc__, flags=re.M)
    package = Path(lossbounds.__file__).parent
    modules = sorted(p.stem for p in package.glob("*.py") if not p.stem.startswith("_"))
    assert sorted(listed) == modules
    assert len(listed) == len(set(listed))
