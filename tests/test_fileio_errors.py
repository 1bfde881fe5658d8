"""Operating-system errors while writing name the file that could not be written (issue 9, section 7)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from engine.cli.main import main
from engine.fileio import atomic_path


def _full_disk(*_args, **_kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))  # as write(2) reports it: no file name


def test_a_full_disk_names_the_target_and_the_reason(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(OSError) as caught, atomic_path(target) as tmp:
        tmp.write_bytes(b"half")
        _full_disk()
    assert caught.value.filename == str(target)
    assert caught.value.errno == errno.ENOSPC and caught.value.strerror == os.strerror(errno.ENOSPC)
    assert list(tmp_path.iterdir()) == []


def test_an_error_naming_the_temporary_file_names_the_target(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(PermissionError) as caught, atomic_path(target) as tmp:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp))
    assert caught.value.filename == str(target)


def test_an_error_about_another_file_keeps_its_name(tmp_path):
    other = tmp_path / "side.txt"
    with pytest.raises(OSError) as caught, atomic_path(tmp_path / "out.bin"):
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(other))
    assert caught.value.filename == str(other)


def test_cli_names_the_side_file_not_the_output(rosinality_pt, tmp_path, capsys, monkeypatch):
    """``render -o a/out.png --save-recipe b/r.json`` on a full disk at the recipe: the line names r.json."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    real = Path.write_text

    def write_text(self, *args, **kwargs):
        if self.name == ".r.json.partial":
            _full_disk()
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", write_text)
    code = main(["render", str(rosinality_pt), "--seed", "1", "--device", "cpu", "-o", str(tmp_path / "a" / "out.png"),
                 "--save-recipe", str(tmp_path / "b" / "r.json")])
    err = capsys.readouterr().err.strip()
    assert code == 1
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"{tmp_path / 'b' / 'r.json'}: no space left" in err, err
    assert "out.png" not in err
    assert list((tmp_path / "b").iterdir()) == []
