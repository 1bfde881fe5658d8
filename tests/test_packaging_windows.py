"""The Windows installer script and the frozen entry point, read as text (nothing is built here)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ISS = ROOT / "build_spec" / "windows" / "styledomain-studio.iss"
ENTRY = ROOT / "build_spec" / "studio_main.py"


def iss_sections(text: str) -> dict[str, list[str]]:
    """``{section: [lines]}`` of an Inno Setup script, comments and blank lines left out."""
    sections: dict[str, list[str]] = {}
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        head = re.fullmatch(r"\[(\w+)\]", line)
        if head:
            current = head.group(1)
            sections.setdefault(current, [])
        else:
            sections.setdefault(current, []).append(line)
    return sections


def setup_values(sections: dict[str, list[str]]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in sections["Setup"])


def test_iss_installs_per_user_and_uninstall_touches_only_the_program_folder() -> None:
    sections = iss_sections(ISS.read_text(encoding="utf-8"))
    setup = setup_values(sections)
    assert setup["PrivilegesRequired"] == "lowest"  # no administrator rights needed
    assert setup["DefaultDirName"].startswith("{autopf}\\")  # %LOCALAPPDATA%\Programs when per-user
    # the model library is %LOCALAPPDATA%\StyleDomain Studio: never the program folder, never deleted
    assert "{localappdata}" not in setup["DefaultDirName"]
    deleted = [re.search(r'Name:\s*"([^"]+)"', line).group(1) for line in sections.get("UninstallDelete", [])]
    assert all(name.startswith("{app}\\") for name in deleted)
    assert not any("{localappdata}" in line or "{userappdata}" in line for line in sections.get("UninstallDelete", []))
    menu = [line for line in sections["Icons"] if "{autoprograms}" in line or "{userprograms}" in line]
    assert menu and all("{app}\\{#AppExe}" in line for line in menu)


def test_iss_paths_point_at_the_bundle_and_icon_from_its_own_folder() -> None:
    text = ISS.read_text(encoding="utf-8")
    bundle = re.search(r'#define Bundle "([^"]+)"', text).group(1)
    assert (ISS.parent / bundle.replace("\\", "/")).resolve() == ROOT / "dist" / "styledomain-studio"
    icon = setup_values(iss_sections(text))["SetupIconFile"].replace("\\", "/")
    assert (ISS.parent / icon).is_file()
    exe = re.search(r'#define AppExe "([^"]+)"', text).group(1)
    assert exe == "styledomain-studio.exe"  # the spec's EXE name plus Windows' suffix
    assert 'name="styledomain-studio"' in (ROOT / "build_spec" / "styledomain-studio.spec").read_text()


def test_iss_version_matches_the_package() -> None:
    from desktop import __version__

    version = re.search(r'#define AppVersion "([^"]+)"', ISS.read_text(encoding="utf-8")).group(1)
    assert version == __version__


def _imports_in_order(func: ast.FunctionDef) -> list[str]:
    names = []
    for node in ast.walk(func):
        if isinstance(node, ast.Import):
            names += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append((node.lineno, node.module or ""))
    return [name for _, name in sorted(names)]


def test_entry_point_imports_torch_before_anything_that_loads_qt() -> None:
    tree = ast.parse(ENTRY.read_text(encoding="utf-8"))
    top = [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert not any("PySide6" in ast.dump(n) or "desktop" in ast.dump(n) for n in top)
    main = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "main")
    order = _imports_in_order(main)
    torch_at = order.index("torch")
    qt_like = [i for i, name in enumerate(order) if name.startswith(("PySide6", "desktop"))]
    assert qt_like and min(qt_like) > torch_at
    # freeze_support comes first: worker processes re-enter the entry point
    first_call = next(n for n in main.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call))
    assert ast.unparse(first_call.value.func) == "multiprocessing.freeze_support"


def test_bundle_runtime_hook_imports_torch_first() -> None:
    """PyInstaller's PySide6 runtime hook imports QtCore before the entry point; ours runs before it."""
    spec = (ROOT / "build_spec" / "styledomain-studio.spec").read_text(encoding="utf-8")
    assert re.search(r'runtime_hooks=\[str\(ROOT / "build_spec" / "rthook_torch_first.py"\)\]', spec)
    hook = ast.parse((ROOT / "build_spec" / "rthook_torch_first.py").read_text(encoding="utf-8"))
    order = [name for func in hook.body if isinstance(func, ast.FunctionDef) for name in _imports_in_order(func)]
    assert "torch" in order and not any(name.startswith(("PySide6", "desktop")) for name in order)
