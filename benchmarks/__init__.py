"""Benchmarks of alexnet_tf against peers measured in the same run."""

# Before any benchmark imports TensorFlow: the package's set-up (oneDNN CPU kernels on, as
# alexnet_tf.train has them; see alexnet_tf.cli.import_tensorflow_quietly) applies to all.
import alexnet_tf  # noqa: F401
