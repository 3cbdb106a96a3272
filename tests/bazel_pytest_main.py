"""Entry point of the Bazel ``py_test`` targets in //:BUILD: runs pytest in-process.

Bazel starts this file from the test's runfiles tree (the working directory is
``<runfiles>/<workspace>``, holding symlinks to ``blazepose/``, ``tests/``,
``setup.cfg``, ...). Command-line arguments (the BUILD ``args`` plus any
``bazel test --test_arg=...``) are passed on to pytest; when none of them is an
existing path, the whole ``tests/`` folder is collected. The exit status is
pytest's.

Under Bazel (``TEST_TMPDIR`` set) the run is kept off the source tree and off
the read-only parts of the sandbox: no ``.pytest_cache`` (``-p
no:cacheprovider``), no bytecode, pytest's ``tmp_path`` and ``tempfile``
under ``$TEST_TMPDIR``, ``HOME`` there too (Keras / TFDS caches), and the
JUnit XML that Bazel asks for in ``$XML_OUTPUT_FILE``. ``bazel-*`` folders
of the workspace are never collected.

It also works by hand from the repository root:
``python tests/bazel_pytest_main.py [pytest args]``.
"""

import os
import sys

sys.dont_write_bytecode = True


def _workspace_root():
    """The folder that holds ``tests/``: the runfiles workspace under Bazel."""
    srcdir = os.environ.get("TEST_SRCDIR")
    workspace = os.environ.get("TEST_WORKSPACE")
    if srcdir and workspace:
        root = os.path.join(srcdir, workspace)
        if os.path.isdir(os.path.join(root, "tests")):
            return root
    # abspath, not realpath: under Bazel this file is a symlink into the
    # source tree, and the runfiles tree is what should be tested.
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _drop_source_tree_from_path(root):
    """Python puts the *resolved* folder of this script first on sys.path.

    Under Bazel that is ``<source tree>/tests``, outside the runfiles: drop it
    so that every import resolves inside the runfiles tree.
    """
    here = os.path.join(root, "tests")
    real = os.path.realpath(here)
    if real != os.path.abspath(here):
        sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != real]


def _drop_editable_finders():
    """Under Bazel, the project's modules come from the runfiles tree only.

    ``pip install -e .`` adds a finder that serves any ``blazepose.*`` module
    from the source tree when the runfiles lack it: a target would then pass
    with a dependency its BUILD rule does not declare. Drop those finders.
    """
    if not os.environ.get("TEST_SRCDIR"):
        return
    sys.meta_path[:] = [finder for finder in sys.meta_path
                        if not getattr(finder, "__module__", "").startswith("__editable__")]


def _hermetic_env(user_args):
    """Keeps writes inside $TEST_TMPDIR under Bazel; returns the pytest options."""
    test_tmpdir = os.environ.get("TEST_TMPDIR")
    if not test_tmpdir:
        return []
    home = os.path.join(test_tmpdir, "home")
    tmp = os.path.join(test_tmpdir, "tmp")
    for folder in (home, tmp):
        os.makedirs(folder, exist_ok=True)
    os.environ["HOME"] = home
    os.environ["TMPDIR"] = tmp
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tempfile

    tempfile.tempdir = None  # re-read TMPDIR
    options = ["--basetemp", os.path.join(test_tmpdir, "pytest")]
    xml = os.environ.get("XML_OUTPUT_FILE")
    if xml and not any(a.startswith("--junitxml") for a in user_args):
        options += ["--junitxml", xml]
    return options


def _is_path(arg):
    """Whether a pytest argument names a file or folder (``path::test`` too)."""
    return not arg.startswith("-") and os.path.exists(arg.split("::")[0])


def main(argv):
    root = _workspace_root()
    os.chdir(root)
    _drop_source_tree_from_path(root)
    _drop_editable_finders()

    user_args = list(argv)
    args = ["-p", "no:cacheprovider", "--rootdir", root]
    args += _hermetic_env(user_args)
    for name in sorted(os.listdir(root)):
        if name.startswith("bazel-"):
            args += ["--ignore", os.path.join(root, name)]
    args += user_args
    if not any(_is_path(a) for a in user_args):
        args.append("tests")

    import pytest

    return int(pytest.main(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
