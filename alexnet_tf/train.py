"""Train AlexNet: ``python -m alexnet_tf.train --dataset cifar10`` (logic in train_and_evaluate)."""

from __future__ import annotations

import dataclasses
import sys
import time

from alexnet_tf import cli
from alexnet_tf.config import TrainConfig, resolve


def build_parser():
    c = TrainConfig()
    p = cli.Parser(
        prog="python -m alexnet_tf.train", description="Train AlexNet (Krizhevsky et al. 2012)."
    )
    p.add_argument(
        "--dataset", default=c.dataset, help="cifar10 | imagenet2012 | folder | synthetic"
    )
    p.add_argument("--data-dir", help="where the data is (default: $ALEXNET_DATA_DIR)")
    p.add_argument(
        "--model", help="alexnet (the paper's) | alexnet_owt | alexnet_cifar (cifar10 default)"
    )
    p.add_argument("--epochs", type=int)
    p.add_argument("--steps-per-epoch", type=int, help="cap on steps per epoch, for smoke runs")
    p.add_argument("--batch-size", type=int, default=c.batch_size, help="global batch (§5: 128)")
    p.add_argument("--eval-batch-size", type=int)
    p.add_argument("--lr", type=float, help="peak learning rate (§5: 0.01)")
    p.add_argument("--momentum", type=float, default=c.momentum)
    p.add_argument("--weight-decay", type=float, default=c.weight_decay)
    p.add_argument("--schedule", help="plateau (§5: lr/10 when val error stalls) | cosine")
    p.add_argument("--warmup-epochs", type=float)
    p.add_argument("--label-smoothing", type=float, default=c.label_smoothing)
    p.add_argument("--norm", help="lrn (§3.3) | batch | none")
    p.add_argument("--towers", type=int, default=c.towers, help="2 (§3.2) or 1")
    p.add_argument("--dropout", type=float, default=c.dropout)
    p.add_argument("--init", help="paper (§5: N(0, 0.01)) | he | glorot")
    p.add_argument("--image-size", type=int)
    p.add_argument("--num-classes", type=int)
    p.add_argument("--num-examples", type=int, help="synthetic data: training examples")
    p.add_argument("--pca-lighting", action="store_true", help="§4.1 PCA colour augmentation")
    p.add_argument("--mean", default=c.mean, help="channel | image (§2: the mean image) | none")
    p.add_argument("--strategy", default=c.strategy, help="auto | mirrored | one_device")
    p.add_argument("--devices", type=int, help="split the GPU or CPU into N logical devices")
    p.add_argument(
        "--precision", default=c.precision, help="float32 | mixed_bfloat16 | mixed_float16"
    )
    p.add_argument("--xla", dest="jit_compile", action="store_true", help="compile with XLA")
    p.add_argument("--seed", type=int, default=c.seed)
    p.add_argument("--workdir", help="checkpoints, logs and results (default runs/DATASET-MODEL)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def train_and_evaluate(
    config: TrainConfig, workdir=None, *, strategy=None, source=None, verbose=True
):
    """Train (or resume) ``config`` in ``workdir``, evaluate, and return ``metrics.json``'s dict.

    ``strategy`` and ``source`` (a :class:`alexnet_tf.data.Source`) may be injected, as tests do.
    """
    import keras

    from alexnet_tf import callbacks, checkpoint, data, distribute, models, optim
    from alexnet_tf.errors import UsageError

    c = resolve(dataclasses.replace(config, workdir=workdir or config.workdir))
    # The strategy first: --devices must split the devices before anything initialises them.
    strategy = strategy or distribute.make_strategy(c.strategy, c.devices)
    root = checkpoint.prepare_workdir(c.workdir)
    keras.utils.set_random_seed(c.seed)
    keras.mixed_precision.set_global_policy(c.precision)
    distribute.check_batch_size(c.batch_size, strategy)
    image_size = c.image_size or models.ARCHITECTURES[c.model].input_size
    if source is None:
        source = data.load_source(
            c.dataset,
            c.data_dir,
            image_size=image_size,
            num_classes=c.num_classes,
            num_examples=c.num_examples,
            seed=c.seed,
        )
    num_classes = c.num_classes or source.num_classes
    steps = source.num_train // c.batch_size
    if steps == 0:
        raise UsageError(
            f"batch size {c.batch_size} exceeds the {source.num_train} training images"
        )
    steps = min(steps, c.steps_per_epoch or steps)

    resume = checkpoint.latest(root)
    if resume and resume[1].get("config", {}).get("model") not in (None, c.model):
        raise UsageError(
            f"workdir {root} holds a {resume[1]['config']['model']} run, not {c.model}: "
            "use another --workdir"
        )
    with strategy.scope():  # model, optimizer and metrics live on the replicas
        model = models.build_model(
            c.model,
            num_classes=num_classes,
            input_size=image_size,
            norm=c.norm,
            towers=c.towers,
            dropout=c.dropout,
            init=c.init,
            seed=c.seed,
        )
        lr = c.lr
        if c.schedule == "cosine":
            lr = optim.WarmupCosine(c.lr, c.epochs * steps, int(c.warmup_epochs * steps))
        model.compile(
            optimizer=optim.PaperSGD(lr, momentum=c.momentum, weight_decay=c.weight_decay),
            loss=optim.SparseCrossentropy(c.label_smoothing),
            metrics=[
                keras.metrics.SparseCategoricalAccuracy(name="top1"),
                keras.metrics.SparseTopKCategoricalAccuracy(min(5, num_classes), name="top5"),
            ],
            jit_compile=c.jit_compile,
        )
        state = {}
        if resume:
            model.optimizer.build(model.trainable_variables)
            try:
                model.load_weights(resume[0])
            except ValueError as e:
                raise UsageError(
                    f"cannot resume from {resume[0]}: {str(e).splitlines()[0]}"
                ) from None
            state = resume[1]
    initial_epoch = state.get("epochs_completed", 0)
    if resume and verbose:
        print(f"resuming from {resume[0]} (epoch {initial_epoch} of {c.epochs})")

    train_ds = data.train_pipeline(
        source,
        c.batch_size,
        image_size=image_size,
        seed=c.seed + initial_epoch,
        pca_lighting=c.pca_lighting,
        mean=c.mean,
        cache_dir=str(root),
    )
    eval_ds = data.eval_pipeline(
        source,
        c.eval_batch_size or c.batch_size,
        image_size=image_size,
        mean=c.mean,
        cache_dir=str(root),
    )
    speed = callbacks.ImagesPerSecond(c.batch_size, steps, verbose=verbose)
    plateau = callbacks.PlateauRule(state=state.get("plateau")) if c.schedule == "plateau" else None
    history = list(state.get("history", []))
    epoch_cb = callbacks.EpochCheckpoint(
        root,
        history,
        speed,
        plateau,
        elapsed=state.get("elapsed_seconds", 0.0),
        extra={"config": dataclasses.asdict(c)},
    )
    cbs = [
        speed,
        epoch_cb,
        keras.callbacks.CSVLogger(str(root / "history.csv"), append=True),
        keras.callbacks.TensorBoard(str(root / "tensorboard"), write_graph=False),
        keras.callbacks.TerminateOnNaN(),
    ]
    t0 = time.perf_counter()
    if initial_epoch < c.epochs:
        model.fit(
            train_ds,
            epochs=c.epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps,
            validation_data=eval_ds,
            callbacks=cbs,
            verbose=0,
        )
    if epoch_cb.diverged_at is not None:
        kept = checkpoint.latest(root)
        where = (
            f"checkpoint of epoch {kept[1]['epochs_completed']} kept" if kept else "no epoch saved"
        )
        raise UsageError(
            f"loss became NaN/Inf in epoch {epoch_cb.diverged_at} ({where}): lower --lr and run "
            "the same command to resume"
        )
    checkpoint.atomic_write(root / "model.keras", lambda tmp: model.save(tmp))
    last = history[-1] if history else {}
    metrics = {
        "dataset": c.dataset,
        "model": c.model,
        "parameters": model.count_params(),
        "replicas": strategy.num_replicas_in_sync,
        "epochs_completed": len(history),
        "steps_per_epoch": steps,
        "batch_size": c.batch_size,
        "top1_error": last.get("val_top1_error"),
        "top5_error": last.get("val_top5_error"),
        "loss": last.get("val_loss"),
        "images_per_second": round(speed.images_per_second, 2) or last.get("images_per_second"),
        "train_seconds": round(time.perf_counter() - t0, 2),
        "elapsed_seconds": last.get("elapsed_seconds"),
        "history": history,
        "config": dataclasses.asdict(c),
    }
    checkpoint.write_json(root / "metrics.json", metrics)
    if verbose:
        print(
            f"{c.model} on {c.dataset}: top-1 error {metrics['top1_error']:.4f}, "
            f"top-5 error {metrics['top5_error']:.4f} after {len(history)} epochs, "
            f"{metrics['images_per_second']:.1f} images/s; results in {root}"
        )
    return metrics


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in vars(args).items() if k in fields})
    return cli.run(lambda: train_and_evaluate(config, verbose=not args.quiet))


if __name__ == "__main__":
    sys.exit(main())
