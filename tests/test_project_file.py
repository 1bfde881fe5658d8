"""Project files (.sdproj): bit-exact round trip, damaged and foreign files, missing models, atomic writes."""

from __future__ import annotations

import pytest
import torch

import engine.fileio
from engine.errors import FileProblem
from engine.pipeline.project import FileRef, Project, find_project_files, load_project, save_project
from engine.pipeline.recipe import DirectionRef, GeneratorRef, LatentRef, Recipe
from engine.resources import demo_model_path


def _project(sha: str = "ab" * 32) -> Project:
    w = torch.randn(6, 16, generator=torch.Generator().manual_seed(3))
    recipe = Recipe(GeneratorRef("ghost-model", sha, "fp0", "/nowhere/ghost.safetensors"),
                    LatentRef("inline", w_plus=w.tolist()), [DirectionRef("sketch", "cd" * 32, "", 0.25)],
                    strength=0.8, psi=0.7)
    files = [FileRef("model", "ghost-model", sha, "/nowhere/ghost.safetensors")]
    return Project(recipe, w, files, {"pad": [0.25, 0.5]}, {"crop": torch.arange(48, dtype=torch.uint8).view(4, 4, 3)})


def test_round_trip_is_bit_exact(tmp_path):
    p = _project()
    path = save_project(p, tmp_path / "a.sdproj")
    back = load_project(path)
    assert back.recipe == p.recipe
    assert back.w_plus.dtype == p.w_plus.dtype and torch.equal(back.w_plus, p.w_plus)
    assert back.files == p.files and back.studio == p.studio
    assert torch.equal(back.tensors["crop"], p.tensors["crop"])


def test_tampered_corrupt_and_foreign_files_are_one_line_problems(tmp_path):
    path = save_project(_project(), tmp_path / "a.sdproj")
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF  # a byte of the last tensor
    tampered = tmp_path / "t.sdproj"
    tampered.write_bytes(bytes(data))
    truncated = tmp_path / "c.sdproj"
    truncated.write_bytes(bytes(data[: len(data) // 2]))
    text = tmp_path / "x.sdproj"
    text.write_text("hello")
    for bad, words in [(tampered, "checksum"), (truncated, "corrupt"), (text, "not a StyleDomain project"),
                       (demo_model_path(), "another kind")]:
        with pytest.raises(FileProblem) as err:
            load_project(bad)
        line = str(err.value)
        assert "\n" not in line and str(bad) in line and words in line, line


def test_unknown_model_is_reported_by_name(tmp_path):
    path = save_project(_project(sha="ef" * 32), tmp_path / "a.sdproj")
    res = find_project_files(load_project(path), path)
    assert [f.name for f in res.missing_required] == ["ghost-model"]
    assert "ghost-model" in res.missing_message()


def test_failed_write_leaves_the_old_file(tmp_path, monkeypatch):
    path = save_project(_project(), tmp_path / "a.sdproj")
    before = path.read_bytes()

    def broken(tensors, filename, metadata=None):
        with open(filename, "wb") as f:
            f.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(engine.fileio, "save_file", broken)
    with pytest.raises(OSError):
        save_project(_project(), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.sdproj"]


def test_cli_project_info_names_the_missing_model(tmp_path, capsys):
    from engine.cli.main import main

    path = save_project(_project(sha="ef" * 32), tmp_path / "a.sdproj")
    assert main(["project", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "ghost-model" in out and "MISSING" in out
    bad = tmp_path / "x.sdproj"
    bad.write_text("hello")
    assert main(["project", "info", str(bad)]) == 2
    assert "not a StyleDomain project" in capsys.readouterr().err
