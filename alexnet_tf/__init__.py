"""AlexNet (Krizhevsky, Sutskever & Hinton, NIPS 2012) in Keras 3 / TensorFlow."""

__version__ = "0.1.0"
