"""The numpy body and motion simulator: articulated 3-D people, cameras, rendering, exercise
sequences, and generated pose tracks (``tracks``). The ``synthetic_pose`` TFDS builder and the
counting benchmarks both use it; it imports no TensorFlow."""
