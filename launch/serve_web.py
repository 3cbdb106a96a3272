r"""Serves the BlazePose web page with a TF.js export, on this machine only.

  python -m launch.export --model=mediapipe_full --format=tfjs --with_preprocessing \
      --output=export/web
  python -m launch.serve_web --model_dir=export/web      # then open http://127.0.0.1:8000/

The page (blazepose/export/web/) runs the model on an uploaded picture or the webcam and draws the
skeleton. TF.js comes from the npm packages pinned in blazepose/export/web/package-lock.json,
installed once into the cache folder ($BLAZEPOSE_CACHE_DIR/web-npm) with `npm ci`; nothing is
loaded from the internet, so the page works offline.
"""

from __future__ import annotations

import os

from absl import app, flags

from blazepose.export import ExportError, web_assets

_MODEL_DIR = flags.DEFINE_string("model_dir", None, "A TF.js export (python -m launch.export "
                                 "--format=tfjs).", required=True)
_HOST = flags.DEFINE_string("host", "127.0.0.1", "Address to listen on.")
_PORT = flags.DEFINE_integer("port", 8000, "Port (0: any free port).", lower_bound=0,
                             upper_bound=65535)


@flags.validator("model_dir", message="--model_dir must be a folder holding model.json")
def _has_model_json(value):
    return value is not None and os.path.isfile(os.path.join(value, "model.json"))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    try:
        node_modules = web_assets.ensure_node_modules()
        server = web_assets.make_server(_MODEL_DIR.value, node_modules, _HOST.value, _PORT.value)
    except ExportError as error:
        raise app.UsageError(str(error)) from None
    host, port = server.server_address[:2]
    print(f"serving {_MODEL_DIR.value} on http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def run():
    app.run(main)


if __name__ == "__main__":
    run()
