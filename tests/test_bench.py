"""``engine.bench``: the task registry and ``styledomain bench`` refusals."""

from __future__ import annotations

import json

import torch

from engine.bench import TASKS, BenchOptions, BenchTask, register, run_tasks
from engine.cli.main import main


def fake_task(opts: BenchOptions) -> dict:
    return {"resolution": opts.generator().config.size, "ms_per_image": 1.5}


def test_one_line_registers_a_task(rosinality_pt):
    register(BenchTask("fake", "a test task", f"{__name__}:fake_task"))
    try:
        lines: list[str] = []
        opts = BenchOptions(torch.device("cpu"), model=str(rosinality_pt), log=lines.append)
        rows = run_tasks(["fake"], opts)
        assert rows == [{"resolution": 32, "ms_per_image": 1.5, "task": "fake"}]
        assert lines == ["resolution=32  ms_per_image=1.5  task=fake"]
    finally:
        TASKS.pop("fake")


def test_model_too_small_for_the_asked_resolutions_is_a_user_error(rosinality_pt, capsys):
    code = main(["bench", str(rosinality_pt), "--device", "cpu", "--resolutions", "256,512", "--tasks", "render"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "32 px generator" in err and "256" in err and "\n" not in err


def test_default_resolutions_fall_back_to_the_model_size(rosinality_pt, capsys):
    code = main(["bench", str(rosinality_pt), "--device", "cpu", "--json", "--tasks", "render", "--batches", "1",
                 "--repeats", "1", "--no-reference"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)["results"]
    assert [(r["task"], r["resolution"], r["impl"]) for r in rows] == [("render", 32, "fast")]


def test_bad_task_lists_and_numbers_are_refused(capsys):
    for argv in (["--tasks", ","], ["--tasks", "render,warp"], ["--batches", "0"], ["--resolutions", "x"]):
        assert main(["bench", "--device", "cpu", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err and "\n" not in err


def test_batch_task_exports_every_rendered_face_and_reports_stage_busy_time(capsys):
    code = main(["bench", "--device", "cpu", "--json", "--tasks", "batch"])  # the demo model on a CPU
    assert code == 0
    (row,) = json.loads(capsys.readouterr().out)["results"]
    assert row["task"] == "batch" and row["model"].startswith("demo-faces")
    assert row["done"] == row["images"] > 0 and row["failed"] == 0, row["first_failure"]
    assert set(row["stage_seconds"]) == {"decode_align", "invert_render", "encode_write"}
    assert 0 < row["overlap"] <= 1.5 and row["images_per_minute"] > 0
