"""``--model`` of apply takes a model-library name as well as a path (issue 9, section 6)."""

from __future__ import annotations

import numpy as np
from conftest import make_generator
from PIL import Image

from engine.checkpoints import save_native
from engine.cli.main import main


def test_apply_model_accepts_a_library_name(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STYLEDOMAIN_HOME", str(tmp_path / "home"))
    save_native(make_generator(seed=4), tmp_path / "g.safetensors")
    assert main(["models", "import", str(tmp_path / "g.safetensors"), "--name", "tiny"]) == 0
    assert main(["render", "tiny", "--seed", "2", "--device", "cpu", "-o", str(tmp_path / "r.png"),
                 "--save-recipe", str(tmp_path / "r.json")]) == 0
    (tmp_path / "g.safetensors").unlink()
    code = main(["apply", "--recipe", str(tmp_path / "r.json"), "--model", "tiny", "--device", "cpu",
                 "-o", str(tmp_path / "a.png")])
    assert code == 0, capsys.readouterr().err
    assert np.array_equal(np.asarray(Image.open(tmp_path / "a.png")), np.asarray(Image.open(tmp_path / "r.png")))
    assert main(["apply", "--recipe", str(tmp_path / "r.json"), "--model", "nosuch", "-o",
                 str(tmp_path / "b.png")]) == 2
    assert "no generator called 'nosuch'" in capsys.readouterr().err
