"""Stage records: a finished stage is reused while its inputs hold, redone when they change or its record is bad."""

from __future__ import annotations

from hwnas.run.stages import Stages


def test_cached_rerun_changed_and_corrupt(tmp_path):
    calls = []

    def work(value):
        def go():
            calls.append(value)
            return {"value": value}
        return go

    lines = []
    stages = Stages(tmp_path, ["a", "b"], lines.append)
    key, out = stages.run("a", {"x": 1}, work(1))
    assert out == {"value": 1} and calls == [1]
    again = Stages(tmp_path, ["a", "b"], lines.append)
    assert again.run("a", {"x": 1}, work(2)) == (key, {"value": 1}) and calls == [1]
    assert "done before" in lines[-1] and lines[0].startswith("[1/2] a")
    key2, out = again.run("a", {"x": 2}, work(3))  # another input: redone
    assert key2 != key and out == {"value": 3} and calls == [1, 3]
    (tmp_path / "stages" / "a.json").write_text("{trunc")
    assert again.run("a", {"x": 2}, work(4))[1] == {"value": 4}  # unreadable record: redone


def test_a_failing_stage_leaves_no_record(tmp_path):
    stages = Stages(tmp_path, ["a"], lambda line: None)

    def boom():
        raise RuntimeError("killed")

    try:
        stages.run("a", {}, boom)
    except RuntimeError:
        pass
    assert not (tmp_path / "stages" / "a.json").exists()
