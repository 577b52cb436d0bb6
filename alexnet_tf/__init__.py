"""AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012) in Keras 3 / TensorFlow."""

from alexnet_tf.cli import import_tensorflow_quietly

__version__ = "0.1.0"

import_tensorflow_quietly()

# Register the custom Keras objects, so `keras.models.load_model("model.keras")` works after
# a plain `import alexnet_tf`.
from alexnet_tf import layers, optim  # noqa: E402, F401
