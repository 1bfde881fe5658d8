"""A PNG-sequence export is all frames or none: a full disk or a cancel midway leaves nothing behind."""

from __future__ import annotations

import errno
import os

import pytest
from conftest import TINY
from PIL import Image
from test_directions_helpers import styledomain_file

from engine.domains import morph
from engine.domains.morph import save_png_sequence
from engine.jobs import Cancelled, CancelToken


def _frames(n: int = 5) -> list[Image.Image]:
    return [Image.new("RGB", (8, 8), (40 * i, 10, 200 - 30 * i)) for i in range(n)]


def _disk_full_at(monkeypatch, nth: int) -> None:
    """The ``nth`` PNG save (counted from 1) fails like a full disk."""
    real, calls = Image.Image.save, []

    def save(self, fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) == nth:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(self, fp, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "save", save)


def test_a_full_disk_midway_removes_every_frame_and_the_new_folder(tmp_path, monkeypatch):
    _disk_full_at(monkeypatch, 3)
    with pytest.raises(OSError) as caught:
        save_png_sequence(_frames(), tmp_path / "seq")
    assert caught.value.filename == str(tmp_path / "seq" / "frame_0002.png")  # the frame that failed
    assert list(tmp_path.iterdir()) == []


def test_a_failure_in_an_existing_folder_keeps_what_was_there(tmp_path, monkeypatch):
    (tmp_path / "seq").mkdir()
    (tmp_path / "seq" / "notes.txt").write_text("mine")
    _disk_full_at(monkeypatch, 2)
    with pytest.raises(OSError):
        save_png_sequence(_frames(), tmp_path / "seq")
    assert [p.name for p in (tmp_path / "seq").iterdir()] == ["notes.txt"]


def test_a_cancel_midway_leaves_nothing(tmp_path):
    token = CancelToken()

    def progress(p):
        if p.step == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        save_png_sequence(_frames(), tmp_path / "seq", progress=progress, cancel=token)
    assert list(tmp_path.iterdir()) == []
    paths = save_png_sequence(_frames(), tmp_path / "seq")  # and a rerun writes the whole sequence
    assert [p.name for p in sorted((tmp_path / "seq").iterdir())] == [p.name for p in paths]


def test_cli_removes_the_pngs_when_the_animation_fails(rosinality_pt, tmp_path, capsys, monkeypatch):
    from engine.cli.main import main

    styledomain_file(tmp_path / "a.pt", TINY.channels, seed=1)

    def full_disk(frames, path, duration_ms=80, loop=0):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(morph, "save_animation", full_disk)
    code = main(["direction", "morph", str(rosinality_pt), "--seed", "4", "--direction", str(tmp_path / "a.pt"),
                 "--frames", "3", "--size", "16", "--device", "cpu", "--png-dir", str(tmp_path / "seq"),
                 "-o", str(tmp_path / "m.gif")])
    err = capsys.readouterr().err
    assert code == 1 and "m.gif: no space left" in err, err
    assert not (tmp_path / "m.gif").exists()
    assert not (tmp_path / "seq").exists() or list((tmp_path / "seq").iterdir()) == []
