"""pytest_test: a Bazel py_test that runs chosen pytest files in-process.

The test files and the shared test helpers (conftest.py, __init__.py, non-test
modules of tests/) are data of the target; tests/bazel_pytest_main.py is its
main and passes the files on to pytest.
"""

load("//build_defs:package.bzl", "JUNK")

PYTEST_MAIN = "tests/bazel_pytest_main.py"

# Top-level files pytest reads for its configuration (whichever exist).
PYTEST_CONFIG = ["conftest.py", "pyproject.toml", "pytest.ini", "setup.cfg", "tox.ini"]

def pytest_test(name, tests, deps, size = "medium", tags = [], data = []):
    """Runs the pytest files ``tests`` (paths from the workspace root).

    Args:
      name: target name.
      tests: test files, e.g. ["tests/test_metrics.py"].
      deps: py_library targets the tests import.
      size: Bazel test size (sets the timeout).
      tags: extra tags ("pytest" is always added).
      data: extra data files.
    """
    helpers = native.glob(
        ["tests/**/*.py"],
        exclude = JUNK + [PYTEST_MAIN, "tests/**/test_*.py", "tests/**/*_test.py"],
        allow_empty = True,
    )
    native.py_test(
        name = name,
        size = size,
        srcs = [PYTEST_MAIN],
        args = tests,
        data = native.glob(PYTEST_CONFIG, allow_empty = True) + helpers + tests + data,
        legacy_create_init = False,
        main = PYTEST_MAIN,
        python_version = "PY3",
        srcs_version = "PY3",
        tags = ["pytest"] + tags,
        deps = deps,
    )
