"""§6's ensembles: several trained models' softmax outputs averaged, as one Keras model."""

from __future__ import annotations

# §6 (ILSVRC-2012): "Averaging the predictions of five similar CNNs gives an error rate of
# 16.4%", top-5 on the validation set, against 18.2% for one CNN. The command
# `python -m alexnet_tf.evaluate --workdir A --ensemble B C` evaluates the average of A's,
# B's and C's softmax outputs, with every view evaluate offers.

# The configuration a test view depends on: members must agree on it to share one view.
SHARED = ("dataset", "mean")


def check_members(configs: list[dict], shapes: list[tuple]) -> None:
    """Refuse, in one line, members that do not see the same test images the same way:
    ``configs`` are their saved run configs, ``shapes`` their (input side, classes)."""
    from alexnet_tf.errors import UsageError

    for key in SHARED:
        values = [c.get(key, "channel" if key == "mean" else None) for c in configs]
        if len(set(values)) > 1:
            raise UsageError(f"ensemble members differ in {key}: {', '.join(map(str, values))}")
    if len({classes for _, classes in shapes}) > 1:
        classes = ", ".join(str(c) for _, c in shapes)
        raise UsageError(f"ensemble members differ in their number of classes: {classes}")
    if len({side for side, _ in shapes}) > 1:
        sides = ", ".join(str(s) for s, _ in shapes)
        raise UsageError(
            f"ensemble members take different input sizes ({sides}): pass --image-size"
        )


def average(models: list, name: str = "ensemble"):
    """One model whose softmax is the mean of ``models``' softmax outputs.

    Its output is log(mean probability), so ``softmax`` of it gives the average back and
    every evaluation that takes a model of logits (centre, flip, ten patches) takes it. The
    members are renamed member0, member1, ... (a Keras model's names must be unique)."""
    import keras

    for i, model in enumerate(models):
        model.name = f"member{i}"
    inputs = keras.Input(models[0].input_shape[1:])
    probs = [
        keras.ops.softmax(keras.ops.cast(m(inputs, training=False), "float32")) for m in models
    ]
    mean = keras.ops.mean(keras.ops.stack(probs), axis=0)
    # 1e-30 keeps log finite where every member gives a class zero probability
    return keras.Model(inputs, keras.ops.log(keras.ops.maximum(mean, 1e-30)), name=name)


def with_members(model, config: dict, workdirs: list[str], image_size: int | None = None):
    """``model`` (a run's, with its saved ``config``) averaged with the trained models of
    ``workdirs``, each at ``image_size`` if given (``model`` must be already)."""
    from pathlib import Path

    from alexnet_tf.errors import UsageError
    from alexnet_tf.evaluate import at_input_size, load_trained

    models, configs = [model], [config]
    for workdir in workdirs:
        if not Path(workdir).is_dir():
            raise UsageError(f"ensemble workdir {workdir} does not exist")
        member, own = load_trained(Path(workdir))
        models.append(at_input_size(member, image_size))
        configs.append(own)
    check_members(configs, [(int(m.input_shape[1]), int(m.output_shape[-1])) for m in models])
    return average(models)
