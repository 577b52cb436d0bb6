"""Train AlexNet: ``python -m alexnet_tf.train --dataset cifar10`` (logic in train_and_evaluate)."""

from __future__ import annotations

import dataclasses
import sys
import time

from alexnet_tf import cli
from alexnet_tf.config import TrainConfig, resolve
from alexnet_tf.flags import build_parser, config_from_args


def train_and_evaluate(
    config: TrainConfig, workdir=None, *, strategy=None, source=None, verbose=True
):
    """Train (or resume) ``config`` in ``workdir``, evaluate, and return ``metrics.json``'s dict.

    ``strategy`` and ``source`` (a :class:`alexnet_tf.data.Source`) may be injected, as tests do.
    Under MultiWorkerMirroredStrategy every worker runs this; only the chief writes ``workdir``.
    Keras's global dtype policy is the run's while it trains and the caller's again after.
    """
    import keras

    previous = keras.mixed_precision.global_policy()
    try:
        return _train_and_evaluate(config, workdir, strategy, source, verbose)
    finally:
        keras.mixed_precision.set_global_policy(previous)


def _train_and_evaluate(config: TrainConfig, workdir, strategy, source, verbose: bool) -> dict:
    import keras
    import tensorflow as tf

    from alexnet_tf import (
        batchnorm,
        callbacks,
        checkpoint,
        data,
        distribute,
        loop,
        machine,
        models,
        optim,
        precision,
        resume,
        whitening,
    )
    from alexnet_tf.errors import UsageError

    c = resolve(dataclasses.replace(config, workdir=workdir or config.workdir))
    if c.deterministic:
        tf.config.experimental.enable_op_determinism()
    # The strategy first: --devices must split the devices before anything initialises them.
    strategy = strategy or distribute.make_strategy(c.strategy, c.devices)
    chief, workers = distribute.is_chief(strategy), distribute.num_workers(strategy)
    root = checkpoint.prepare_workdir(c.workdir if chief else distribute.scratch_dir(c.workdir))
    if chief:
        checkpoint.clean_stale(root)
    verbose = verbose and chief
    keras.utils.set_random_seed(c.seed)
    keras.mixed_precision.set_global_policy(precision.resolve(c.precision))
    distribute.check_batch_size(c.batch_size, strategy)
    image_size = c.image_size or models.ARCHITECTURES[c.model].input_size
    if source is None:
        source = data.load_source(
            c.dataset, c.data_dir, image_size=image_size, num_classes=c.num_classes,
            num_examples=c.num_examples, seed=c.seed, cache_dir=str(root),
        )  # fmt: skip
    num_classes = c.num_classes or source.num_classes
    if num_classes < source.num_classes:
        raise UsageError(
            f"--num-classes {num_classes} is fewer than the {source.num_classes} classes of "
            f"{c.dataset}: its labels would be out of range"
        )
    steps = min(source.num_train // c.batch_size, c.steps_per_epoch or source.num_train)
    if steps == 0:
        raise UsageError(
            f"batch size {c.batch_size} exceeds the {source.num_train} training images"
        )

    resume.check_workdir(strategy, root, c, chief, workers)
    with strategy.scope():  # model, optimizer and metrics live on the replicas
        try:
            model = models.build_model(
                c.model, num_classes=num_classes, input_size=image_size, norm=c.norm,
                lrn_alpha=c.lrn_alpha,
                towers=c.towers, dropout=c.dropout, init=c.init, seed=c.seed,
                overlapping_pool=c.pooling == "overlapping", activation=c.activation,
                input_scale=255.0 if c.raw_pixels else 1.0,
            )  # fmt: skip
        except ValueError as e:
            first, shrinks = str(e).strip().splitlines()[0], "zero or negative" in str(e)
            why = "its feature maps would shrink to nothing" if shrinks else first
            raise UsageError(f"cannot build {c.model} for {image_size}px inputs: {why}") from None
        try:
            models.check_layers(model, *c.grad_scale)
            models.scale_layers(model, c.init_scale)  # --init-scale (restore overrides it)
        except ValueError as e:
            raise UsageError(str(e)) from None
        model.get_layer("conv1").trainable = not c.whiten  # --whiten: frozen, as in airbench
        lr = c.lr
        if c.schedule == "cosine":
            lr = optim.WarmupCosine(c.lr, c.epochs * steps, int(c.warmup_epochs * steps))
        sgd = optim.PaperSGD(
            lr, momentum=c.momentum, weight_decay=c.weight_decay, gradient_scales=c.grad_scale,
            use_ema=c.ema > 0, ema_momentum=c.ema,
        )  # fmt: skip
        model.compile(optimizer=sgd, loss=optim.SparseCrossentropy(c.label_smoothing))
        model.optimizer.build(model.trainable_variables)
    resumed = resume.restore(model, strategy, root, c, chief, workers)
    state = resumed[1] if resumed else {}
    epoch0, step0 = state.get("epochs_completed", 0), state.get("step", 0)

    def plan(done: int, elapsed: float) -> int:
        """The run's length: with a wall-clock budget, the epochs that fit at the pace of the
        ``done`` so far (at most c.epochs); the cosine is made to end with the last of them."""
        n = c.epochs
        if c.time_budget and done:
            n = callbacks.epochs_within(c.time_budget * 60.0, elapsed, done, c.epochs)
            if workers > 1:  # the chief's clock decides for every worker
                n = distribute.broadcast_json(strategy, n)
        if isinstance(lr, optim.WarmupCosine):
            lr.set_total_steps(n * steps)
        return n

    # Planned again after every epoch, and on resuming (--epochs may have changed).
    planned = plan(epoch0, state.get("elapsed_seconds", 0.0))
    if resumed and verbose:
        print(
            f"resuming from {resumed[0]} at epoch {min(epoch0 + 1, c.epochs)}/{c.epochs}, "
            f"step {step0}/{steps} (global step {state.get('global_step', epoch0 * steps)})"
        )

    def input_fn(ctx: tf.distribute.InputContext | None):
        """The training batches from where the run stands; without ``ctx``, whole global
        batches from the start (--ema's batch-norm statistics)."""
        return data.train_pipeline(
            source, c.batch_size, image_size=image_size, seed=c.seed,
            pca_lighting=c.pca_lighting, mean=c.mean, cache_dir=str(root),
            augmentation=c.augment, cutout=c.cutout, alternating_flip=c.alternating_flip,
            steps_per_epoch=steps,
            start=(epoch0, step0) if ctx else (0, 0),
            shard=(ctx.input_pipeline_id, ctx.num_input_pipelines) if ctx else (0, 1),
            replica_batch_size=ctx.get_per_replica_batch_size(c.batch_size) if ctx else None,
        )  # fmt: skip

    eval_ds = data.eval_pipeline(
        source, c.eval_batch_size or c.batch_size, image_size=image_size, mean=c.mean,
        cache_dir=str(root),
    )  # fmt: skip
    if c.whiten and not resumed:  # from the patches that conv1 sees in training
        whitening.whiten_conv1(model, input_fn(None).take(whitening.BATCHES))
    recalibrate = None
    if c.ema and c.ema_bn_batches:  # the same training batches, augmented, every time
        recalibrate = batchnorm.Recalibration(
            model, strategy, input_fn(None).take(c.ema_bn_batches)
        )
    trainer = loop.Trainer(
        model, strategy, batch_size=c.batch_size, seed=c.seed, jit_compile=c.jit_compile,
        recalibrate=recalibrate,
    )  # fmt: skip
    progress = callbacks.ImagesPerSecond(c.batch_size, steps, c.epochs, verbose=verbose)
    plateau = None
    if c.schedule == "plateau":
        plateau = callbacks.PlateauRule(state=state.get("plateau"))
    history = list(state.get("history", []))
    global_step = int(callbacks.value(model.optimizer.iterations))
    log = callbacks.RunLog(root, global_step, enabled=chief)
    clock = time.perf_counter() - state.get("elapsed_seconds", 0.0)

    def snapshot(epochs_completed: int, step: int, sums=None) -> dict:
        s = {
            "epochs_completed": epochs_completed, "step": step, "global_step": global_step,
            "history": history, "elapsed_seconds": round(time.perf_counter() - clock, 3),
            "batch_size": c.batch_size, "steps_per_epoch": steps, "workers": workers,
            "config": dataclasses.asdict(c),
        }  # fmt: skip
        if plateau is not None:
            s["plateau"] = plateau.state
        if step:
            s["partial"] = [float(v) for v in sums]  # the epoch's sums so far
        return s

    newest = None  # the checkpoint the model is saved in, until it changes

    def on_step(epoch: int, step: int, out, sums) -> None:
        nonlocal global_step, newest
        global_step += 1
        newest = None
        log.step(
            global_step=global_step, epoch=epoch + 1, step=step,
            loss=float(out[0] / out[3]), top1_error=float(1.0 - out[1] / out[3]),
        )  # fmt: skip
        due = c.checkpoint_steps and global_step % c.checkpoint_steps == 0
        if chief and due and step < steps:  # at an epoch's end the epoch checkpoint follows
            log.flush()
            newest = checkpoint.save(root, model, snapshot(epoch, step, sums))

    def on_epoch(epoch: int, sums, val: dict) -> bool:
        nonlocal planned, newest
        n = sums[3]
        logs = {"loss": sums[0] / n, "top1": sums[1] / n, "top5": sums[2] / n}
        logs.update({f"val_{k}": v for k, v in val.items()})
        for prefix in ("", "val_", "val_live_"):  # val_live_: --ema's trained weights
            for k in ("top1", "top5"):
                if prefix + k in logs:
                    logs[f"{prefix}{k}_error"] = 1.0 - logs[prefix + k]
        elapsed = time.perf_counter() - clock
        planned = plan(epoch, elapsed)
        logs["lr"] = callbacks.value(model.optimizer.learning_rate)  # the next step's
        logs["elapsed_seconds"] = elapsed
        logs["images_per_second"] = progress.epoch_rate
        if c.time_budget:
            logs["planned_epochs"] = planned
        if plateau is not None:
            plateau.step(logs["val_top1_error"], model.optimizer, verbose=verbose)
        history.append({"epoch": epoch, **{k: callbacks.num(v) for k, v in logs.items()}})
        log.flush()
        if chief:
            newest = checkpoint.save(root, model, snapshot(epoch, 0))
            log.epoch(history)
        if epoch >= planned and epoch < c.epochs and verbose:
            print(f"time budget of {c.time_budget:g} min: stopping after epoch {epoch}")
        return epoch >= planned

    try:
        if epoch0 < planned:
            dist_ds = strategy.distribute_datasets_from_function(input_fn)
            trainer.fit(
                iter(dist_ds), eval_ds, epochs=c.epochs, steps=steps, start=(epoch0, step0),
                partial=state.get("partial"), progress=progress, on_step=on_step,
                on_epoch=on_epoch,
            )  # fmt: skip
    except loop.Diverged as e:
        raise resume.diverged(e, root, chief, global_step) from None
    finally:
        log.close()
    # --ema: model.keras holds the average (checkpoints hold the trained weights, to resume),
    # with the batch-norm statistics its last evaluation used. Without it, the model is the
    # last checkpoint's, and model.keras is a copy of that file.
    if c.ema:
        model.optimizer.finalize_variable_values(model.trainable_variables)
        if recalibrate is not None:
            recalibrate()
        newest = None
    checkpoint.publish(root / "model.keras", model, newest)
    last = history[-1] if history else {}
    metrics = {
        "dataset": c.dataset,
        "model": c.model,
        "parameters": model.count_params(),
        "replicas": strategy.num_replicas_in_sync,
        "workers": workers,
        "epochs_completed": len(history),
        "epochs_planned": planned,
        "steps_per_epoch": steps,
        "global_step": int(callbacks.value(model.optimizer.iterations)),
        "batch_size": c.batch_size,
        "top1_error": last.get("val_top1_error"),
        "top5_error": last.get("val_top5_error"),
        "live_top1_error": last.get("val_live_top1_error"),  # --ema: the trained weights'
        "loss": last.get("val_loss"),
        "images_per_second": round(progress.images_per_second, 2) or last.get("images_per_second"),
        "train_seconds": round(time.perf_counter() - clock - state.get("elapsed_seconds", 0), 2),
        "elapsed_seconds": last.get("elapsed_seconds"),
        "seconds_to_test_top1": callbacks.time_to_accuracy(history),
        "skipped_images": source.skipped,
        "class_names": list(source.class_names),  # what predict prints
        "history": history,
        "config": dataclasses.asdict(c),
        # Time to accuracy depends on the host (2x between this project's CPU machines).
        "machine": {**machine.describe(), "policy": keras.mixed_precision.global_policy().name},
    }
    if chief:
        checkpoint.write_json(root / "metrics.json", metrics)
    if verbose:
        print(
            f"{c.model} on {c.dataset}: top-1 error {metrics['top1_error']:.4f}, "
            f"top-5 error {metrics['top5_error']:.4f} after {len(history)} epochs, "
            f"{metrics['images_per_second']:.1f} images/s; results in {root}"
        )
    return metrics


def _train(config: TrainConfig, verbose: bool) -> dict:
    """train_and_evaluate, with a lost worker (at any moment) told in one line."""
    import tensorflow as tf

    from alexnet_tf.errors import TrainingStopped

    lost = (tf.errors.UnavailableError, tf.errors.CancelledError, tf.errors.AbortedError)
    try:
        return train_and_evaluate(config, verbose=verbose)
    except (*lost, tf.errors.DeadlineExceededError) as e:
        if config.strategy != "multi_worker":
            raise
        raise TrainingStopped(
            f"lost contact with another worker ({type(e).__name__}): start every worker again "
            "with the same command to resume from the chief's last checkpoint"
        ) from None


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    return cli.run(lambda: _train(config, verbose=not args.quiet))


if __name__ == "__main__":
    sys.exit(main())
