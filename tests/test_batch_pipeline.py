"""The overlapped batch pipeline (engine.pipeline.batch.pipeline): a bad item fails alone; a cancel that a stage
raises (it was handed the run's token) stops the run and is never reported as that item's failure."""

from __future__ import annotations

import pytest

from engine.jobs import Cancelled, CancelToken, check_cancel
from engine.pipeline.batch.pipeline import Stages, run_pipeline


def _run(stages: Stages, jobs, cancel=None):
    done, failed = [], []
    try:
        run_pipeline(jobs, stages, workers=2, writers=1, batch=2, cancel=cancel,
                     on_done=lambda j, v: done.append(j), on_failed=lambda j, e: failed.append((j, e)))
    except Cancelled:
        return done, failed, True
    return done, failed, False


def test_a_bad_item_fails_alone_and_the_rest_finish():
    def prepare(job):
        if job == 3:
            raise ValueError("bad input")
        return job

    done, failed, cancelled = _run(Stages(prepare, lambda items: items, lambda j, v: v), range(8))
    assert not cancelled and sorted(done) == [0, 1, 2, 4, 5, 6, 7]
    assert [(j, str(e)) for j, e in failed] == [(3, "bad input")]


@pytest.mark.parametrize("stage", ["prepare", "process", "finish"])
def test_a_cancel_raised_inside_a_stage_stops_the_run_and_fails_nothing(stage):
    token = CancelToken()

    def cancel_at(job_or_items, where):
        hit = 4 in (job_or_items if isinstance(job_or_items, list) else [job_or_items])
        if where == stage and hit:
            token.cancel()
        check_cancel(token, "batch")

    stages = Stages(lambda j: (cancel_at(j, "prepare"), j)[1],
                    lambda items: (cancel_at(items, "process"), items)[1],
                    lambda j, v: (cancel_at(j, "finish"), v)[1])
    done, failed, cancelled = _run(stages, range(40), token)
    assert cancelled
    assert failed == []  # the cancelled item (and those after it) are neither done nor failed
    assert 4 not in done and len(done) < 40


def test_a_cancel_while_the_results_queue_is_full_does_not_hang():
    """The writer stops on a cancel while the device stage has filled the results queue: the device stage's
    end-of-stream marker must not wait forever for a queue nobody drains any more."""
    import threading
    import time

    token = CancelToken()

    def finish(job, value):
        time.sleep(0.3)  # meanwhile the device stage fills the results queue
        token.cancel()
        check_cancel(token, "batch")

    out: list = []
    runner = threading.Thread(target=lambda: out.append(_run(Stages(lambda j: j, lambda items: items, finish),
                                                             range(40), token)), daemon=True)
    runner.start()
    runner.join(20)
    assert not runner.is_alive(), "the pipeline hung after the cancel"
    done, failed, cancelled = out[0]
    assert cancelled and done == [] and failed == []
