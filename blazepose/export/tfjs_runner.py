"""Runs the TF.js SavedModel converter; executed as a script by ``converters.convert_tfjs``.

  python tfjs_runner.py SAVED_MODEL_DIR OUTPUT_DIR SIGNATURE QUANTIZE

with ``PYTHONPATH`` holding the packages of ``tfjs_env.ensure_environment``. The converter's
package imports TensorFlow Decision Forests (to load Decision Forests SavedModels) and its JAX
converter module at import time; neither is used for a plain SavedModel and neither is installed
(see ``tfjs_env``), so both get empty stand-ins here, before the converter is imported.
"""

from __future__ import annotations

import importlib
import sys
import types


def _stand_in(name: str, **attributes) -> None:
    module = types.ModuleType(name)
    module.__dict__.update(attributes)
    sys.modules[name] = module


def _no_jax(*args, **kwargs):
    raise RuntimeError("JAX conversion is not available in this converter environment")


def main(argv: list[str]) -> int:
    if len(argv) != 5:
        print(__doc__, file=sys.stderr)
        return 2
    saved_model_dir, output_dir, signature, quantize = argv[1:]
    try:
        importlib.import_module("tensorflow_decision_forests")
    except ImportError:
        _stand_in("tensorflow_decision_forests")
    _stand_in("tensorflowjs.converters.jax_conversion", convert_jax=_no_jax)
    from tensorflowjs.converters import tf_saved_model_conversion_v2 as conversion

    dtype_map = {"float16": True} if quantize == "float16" else None
    conversion.convert_tf_saved_model(saved_model_dir, output_dir, signature_def=signature,
                                      saved_model_tags="serve",
                                      quantization_dtype_map=dtype_map,
                                      use_structured_outputs_names=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
