r"""Runs a tf.data service dispatcher or worker, so preprocessing scales out to other machines.

  python -m launch.data_service --role=dispatcher --port=5050
  python -m launch.data_service --role=worker --dispatcher=localhost:5050 --port=5051
  python -m launch.train --data_service=grpc://localhost:5050 ...

Workers run the training input pipeline (decode, crop, augmentation, targets) and need the same
TFDS data directory as the trainer (a shared file system or bucket). Runs until interrupted.
"""

from __future__ import annotations

import tensorflow as tf
from absl import app, flags

import datasets_tfds

_ROLE = flags.DEFINE_enum("role", None, ["dispatcher", "worker"], "Which server.", required=True)
_PORT = flags.DEFINE_integer("port", 5050, "Port to listen on.", lower_bound=1,
                             upper_bound=65535)
_DISPATCHER = flags.DEFINE_string("dispatcher", None, "host:port of the dispatcher (workers).")
_WORK_DIR = flags.DEFINE_string("work_dir", None, "Dispatcher journal for fault tolerance.")

flags.register_multi_flags_validator(
    ["role", "dispatcher"], lambda v: v["role"] != "worker" or bool(v["dispatcher"]),
    message="--role=worker needs --dispatcher=host:port")


def start(role: str, port: int, dispatcher: str | None = None, work_dir: str | None = None):
    """Starts one server and returns it (call ``.join()`` to block)."""
    service = tf.data.experimental.service
    if role == "dispatcher":
        return service.DispatchServer(service.DispatcherConfig(
            port=port, work_dir=work_dir, fault_tolerant_mode=bool(work_dir)))
    return service.WorkerServer(service.WorkerConfig(
        dispatcher_address=dispatcher, port=port, worker_address=f"localhost:{port}"))


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"unexpected arguments: {argv[1:]}")
    datasets_tfds.register_builders()
    server = start(_ROLE.value, _PORT.value, _DISPATCHER.value, _WORK_DIR.value)
    print(f"tf.data service {_ROLE.value} listening on port {_PORT.value}", flush=True)
    server.join()


if __name__ == "__main__":
    app.run(main)
