"""The TF.js side: npm packages (installed into a cache folder, never into the repository),
Node, and a small static server for the web page in ``web/``.

``web/package.json`` and ``web/package-lock.json`` pin the packages (``@tensorflow/tfjs``, whose
pure-JS CPU backend runs in Node and in the browser, and ``playwright-core``, which drives
Debian's Chromium in the browser test). ``@tensorflow/tfjs-node`` is not used: its install step
downloads a native TensorFlow library from outside the npm registry.

The server (``python -m launch.serve_web``) answers only on the address it is given (default
127.0.0.1) and serves three trees: the page (``/``, ``/app.js``, ``/style.css``), the exported
model folder (``/model/``) and TF.js's browser bundle from the npm cache (``/vendor/tfjs/``), so
the page works offline.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import pathlib
import shutil
import subprocess
import urllib.parse

from blazepose.export.config import ExportError
from blazepose.pretrained.files import build_folder_atomically, default_cache_dir

WEB_DIR = pathlib.Path(__file__).resolve().with_name("web")
PAGE_FILES = ("index.html", "app.js", "style.css")
READY_FILE = ".blazepose-ready"


def node_executable() -> str:
    node = shutil.which("node")
    if node is None:
        raise ExportError("Node.js is needed to run TF.js models (apt-get install nodejs npm)")
    return node


def _lock_key() -> str:
    digest = hashlib.sha256()
    for name in ("package.json", "package-lock.json"):
        digest.update((WEB_DIR / name).read_bytes())
    return digest.hexdigest()[:12]


def default_npm_dir(cache_dir: os.PathLike | None = None) -> pathlib.Path:
    base = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
    return base / "web-npm" / _lock_key()


def ensure_node_modules(cache_dir: os.PathLike | None = None, print_fn=print) -> pathlib.Path:
    """``node_modules`` of ``web/package-lock.json``, installed with ``npm ci`` the first time
    into ``CACHE/web-npm/<hash of package.json and the lock>``.

    Raises:
      ExportError: npm is missing or failed.
    """
    root = default_npm_dir(cache_dir)
    if (root / READY_FILE).is_file():
        return root / "node_modules"
    npm = shutil.which("npm")
    if npm is None:
        raise ExportError("npm is needed to install the TF.js packages (apt-get install npm)")

    def install(scratch: pathlib.Path) -> None:
        for name in ("package.json", "package-lock.json"):
            shutil.copy(WEB_DIR / name, scratch / name)
        print_fn(f"installing the TF.js npm packages into {root}")
        result = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
                                cwd=scratch, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise ExportError(f"npm ci failed in {scratch}:\n{result.stderr[-3000:]}")

    return build_folder_atomically(root, install, READY_FILE, _lock_key() + "\n") / "node_modules"


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Maps URL prefixes onto folders; anything outside them is a 404."""

    def __init__(self, *args, routes: dict[str, pathlib.Path], quiet: bool, **kwargs):
        self.routes = routes
        self.quiet = quiet
        super().__init__(*args, directory=str(WEB_DIR), **kwargs)

    def translate_path(self, path: str) -> str:
        path = urllib.parse.unquote(urllib.parse.urlsplit(path).path)
        if path in ("", "/"):
            path = "/index.html"
        for prefix, root in self.routes.items():
            if path.startswith(prefix):
                relative = path[len(prefix):]
                if prefix == "/" and relative not in PAGE_FILES:
                    break
                candidate = (root / relative).resolve()
                if candidate == root or root in candidate.parents:
                    return str(candidate)
                break
        return str(WEB_DIR / "__not_found__")

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        if not self.quiet:
            super().log_message(format, *args)


def make_server(model_dir: os.PathLike, node_modules: os.PathLike, host: str = "127.0.0.1",
                port: int = 8000, quiet: bool = False) -> http.server.ThreadingHTTPServer:
    """A server for the page, ``model_dir`` (a TF.js export) and TF.js's browser bundle.

    ``port=0`` picks a free port (``server.server_address[1]``). Call ``serve_forever()``.
    """
    model_dir = pathlib.Path(model_dir).resolve()
    if not (model_dir / "model.json").is_file():
        raise ExportError(f"--model_dir {model_dir} has no model.json (export one with "
                          "python -m launch.export --format=tfjs)")
    bundle = pathlib.Path(node_modules).resolve() / "@tensorflow" / "tfjs" / "dist"
    if not (bundle / "tf.min.js").is_file():
        raise ExportError(f"{bundle} has no tf.min.js; run ensure_node_modules() first")
    routes = {"/model/": model_dir, "/vendor/tfjs/": bundle, "/": WEB_DIR}
    handler = functools.partial(_Handler, routes=routes, quiet=quiet)
    return http.server.ThreadingHTTPServer((host, port), handler)
