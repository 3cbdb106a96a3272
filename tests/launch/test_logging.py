"""The launch programs keep TF's, TFDS's and absl's INFO logging quiet unless --verbosity asks."""

from __future__ import annotations

import os
import pathlib
import re
import subprocess
import sys

import pytest

import launch

ROOT = pathlib.Path(__file__).resolve().parents[2]
# An absl C++ or TF C++ log line of severity INFO, e.g. "I0000 00:00:1796.5 13406 port.cc:153] ".
CPP_INFO = re.compile(r"^I\d{4} [\d:.]+ +\d+ \S+:\d+\]|^[\d-]+ [\d:.]+: I \S+:\d+\]", re.M)

# A program shaped like the launch programs: imports the package, then TF and TFDS before absl
# parses the flags (launch.model_info below imports TF after), logs at each level.
PROGRAM = """
import launch
import tensorflow as tf
import tensorflow_datasets as tfds
from absl import app, logging

def main(argv):
    logging.info("absl info line")
    tf.get_logger().info("tensorflow info line")
    logging.warning("absl warning line")
    print("the result", float(tf.reduce_sum(tf.ones([3]))))

app.run(main)
"""


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_info_logging_is_quiet_by_default_and_verbosity_brings_it_back():
    quiet = _run("-c", PROGRAM)
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout.strip() == "the result 3.0"
    assert "absl warning line" in quiet.stderr
    for noise in ("absl info line", "tensorflow info line", "absl::InitializeLog"):
        assert noise not in quiet.stderr
    assert not CPP_INFO.search(quiet.stderr), quiet.stderr

    verbose = _run("-c", PROGRAM, "--verbosity=0")
    assert verbose.returncode == 0, verbose.stderr
    assert verbose.stdout.strip() == "the result 3.0"
    for line in ("absl info line", "tensorflow info line", "absl warning line"):
        assert line in verbose.stderr


def test_a_launch_program_prints_its_results_without_tf_info_lines():
    result = _run("-m", "launch.model_info", "--variants=lite")
    assert result.returncode == 0, result.stderr
    assert re.search(r"^lite +1,\d{3},\d{3} .* identical$", result.stdout, re.M), result.stdout
    assert not CPP_INFO.search(result.stderr), result.stderr
    assert "absl::InitializeLog" not in result.stderr


@pytest.mark.parametrize("argv, expected", [
    (["prog"], None),
    (["prog", "--verbosity=1"], 1),
    (["prog", "--verbosity", "0", "--other=x"], 0),
    (["prog", "-v", "2"], 2),
    (["prog", "-v=-1"], -1),
    (["prog", "--v=0", "--verbosity=1"], 1),
    (["prog", "--verbosity=loud"], None),
    (["prog", "--", "--verbosity=1"], None),
    (["prog", "--verbosity_extra=1"], None),
])
def test_verbosity_is_read_from_the_command_line(argv, expected):
    assert launch.requested_verbosity(argv) == expected


def test_cpp_lines_are_kept_from_the_level_up():
    info = "I0000 00:00:1796572231.032905   24040 port.cc:153] oneDNN custom operations are on.\n"
    old_warning = "2025-09-17 14:44:05.157831: W external/local_xla/cuda_fft.cc:467] cuFFT\n"
    error = "E0000 00:00:1796572233.639379   24040 cuda_platform.cc:52] failed call to cuInit\n"
    preamble = "WARNING: All log messages before absl::InitializeLog() is called are written\n"
    python = "UserWarning: something the user should read\n"
    lines = [info, old_warning, error, preamble, python]
    assert [launch.keep_cpp_line(line, 0) for line in lines] == [True] * 5
    assert [launch.keep_cpp_line(line, 1) for line in lines] == [False, True, True, False, True]
    assert [launch.keep_cpp_line(line, 2) for line in lines] == [False, False, True, False, True]
    assert [launch.keep_cpp_line(line, 3) for line in lines] == [False, False, False, False, True]
    assert launch.cpp_log_level(None) == launch.cpp_log_level(-1) == "2"
    assert launch.cpp_log_level(0) == "0"


# --- one style for user errors (issue 21) -----------------------------------------------------

FAILING_PROGRAM = """
import launch
from absl import app

def main(argv):
    raise {error}

app.run(main)
"""


@pytest.mark.parametrize("error, shown", [
    ('FileNotFoundError("/data/train.json: no such file")',
     "error: /data/train.json: no such file"),
    ('ValueError("train.json, record 3 (image \'a.jpg\'): bad")',
     "error: train.json, record 3 (image 'a.jpg'): bad"),
])
def test_a_user_error_is_one_line_without_traceback_unless_asked(error, shown):
    program = FAILING_PROGRAM.format(error=error)
    plain = _run("-c", program)
    assert plain.returncode == 1
    assert shown in plain.stderr and "Traceback" not in plain.stderr, plain.stderr
    for asked in (_run("-c", program, "--verbosity=1"),):
        assert "Traceback" in asked.stderr and shown.split("error: ")[1] in asked.stderr
    env_run = subprocess.run([sys.executable, "-c", program], cwd=ROOT, capture_output=True,
                             text=True, timeout=300,
                             env={**os.environ, launch.TRACEBACK_ENV: "1",
                                  "PYTHONPATH": str(ROOT)})
    assert "Traceback" in env_run.stderr


def test_a_bug_keeps_its_traceback():
    result = _run("-c", FAILING_PROGRAM.format(error='KeyError("internal")'))
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_a_long_message_is_cut_and_counted():
    text = launch.user_error_text("launch.x", ValueError("\n".join(f"line {i}" for i in range(40))))
    assert text.startswith("launch.x: error: line 0\n") and "(28 more lines)" in text
