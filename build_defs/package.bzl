"""package_library: a py_library of one top-level Python package of the repo.

Its sources are the package's .py files (minus ``exclude``), its data every
other file below the package folder (checksums, dummy data, web assets, ...).
"""

JUNK = [
    "**/__pycache__/**",
    "**/*.pyc",
    "**/.pytest_cache/**",
    "**/.mypy_cache/**",
    "**/.ruff_cache/**",
]

def package_library(name, package, deps = [], exclude = []):
    """One py_library for the folder ``package`` (e.g. "blazepose").

    Args:
      name: target name.
      package: the package folder at the workspace root.
      deps: py_library targets the package imports.
      exclude: .py files of the package that belong to another target.
    """
    native.py_library(
        name = name,
        srcs = native.glob(
            [package + "/**/*.py"],
            exclude = JUNK + exclude,
            allow_empty = True,
        ),
        data = native.glob(
            [package + "/**"],
            exclude = JUNK + [package + "/**/*.py"],
            allow_empty = True,
        ),
        imports = ["."],
        srcs_version = "PY3",
        deps = deps,
    )
