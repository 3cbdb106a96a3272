"""The progress line: counts, rate, ETA, and quiet logs when not on a terminal."""

import io

from blazepose.progress import ProgressBar


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_rate_percentage_and_eta():
    clock, stream = _Clock(), io.StringIO()
    bar = ProgressBar(100, label="evaluating", stream=stream, clock=clock)
    clock.now = 5.0
    bar.update(25)
    assert bar.text() == "evaluating 25/100 (25%) 5.0 examples/s ETA 15s"
    clock.now = 20.0
    bar.update(75)
    bar.close()
    bar.close()
    lines = stream.getvalue().splitlines()
    assert lines[-1] == "evaluating 100/100 (100%) 5.0 examples/s in 20s"
    assert len(lines) == 3  # two updates (10 s apart) and one final line, not repeated


def test_log_lines_are_rate_limited_and_terminal_redraws_in_place():
    clock, log = _Clock(), io.StringIO()
    bar = ProgressBar(None, unit="frames", stream=log, clock=clock, log_interval=10.0)
    for _ in range(50):
        clock.now += 0.5
        bar.update()
    assert len(log.getvalue().splitlines()) == 3  # at 0.5 s, 10.5 s, 20.5 s
    assert "ETA" not in bar.text() and "frames/s" in bar.text()
    terminal = _Terminal()
    with ProgressBar(3, stream=terminal, clock=clock) as live:
        for _ in range(3):
            clock.now += 1.0
            live.update()
    text = terminal.getvalue()
    assert text.count("\r") == 4 and text.endswith("\n") and text.count("\n") == 1
