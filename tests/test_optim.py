"""§5's update rule, the schedules and the loss, against hand computations."""

import keras
import numpy as np
import pytest

from alexnet_tf import optim
from alexnet_tf.callbacks import PlateauRule


def test_paper_constants():
    assert (optim.MOMENTUM, optim.WEIGHT_DECAY, optim.BATCH_SIZE) == (0.9, 5e-4, 128)
    assert (optim.LEARNING_RATE, optim.LR_DIVISOR, optim.MAX_LR_REDUCTIONS) == (0.01, 10.0, 3)


def test_paper_sgd_follows_section5_update_rule():
    """v <- 0.9 v - 0.0005 eps w - eps g ;  w <- w + v  (decay on weights, not biases)."""
    eps, wd = 0.1, 5e-4
    w0 = np.array([[1.0, -2.0], [3.0, 0.5]], "float32")
    b0 = np.array([1.0, -1.0], "float32")
    w, b = keras.Variable(w0), keras.Variable(b0)
    opt = optim.PaperSGD(eps, momentum=0.9, weight_decay=wd)
    grads = [np.array([[0.1, 0.2], [-0.3, 0.4]], "float32"), np.array([0.5, -0.5], "float32")]
    vw, vb, ew, eb = np.zeros_like(w0), np.zeros_like(b0), w0.copy(), b0.copy()
    for _ in range(3):
        opt.apply_gradients(zip(grads, [w, b], strict=True))
        vw = 0.9 * vw - wd * eps * ew - eps * grads[0]
        ew = ew + vw
        vb = 0.9 * vb - eps * grads[1]
        eb = eb + vb
    np.testing.assert_allclose(w.numpy(), ew, rtol=1e-6)
    np.testing.assert_allclose(b.numpy(), eb, rtol=1e-6)
    # Differs from Keras' decoupled weight decay, which bypasses the momentum.
    w2 = keras.Variable(w0)
    decoupled = keras.optimizers.SGD(eps, momentum=0.9, weight_decay=wd)
    for _ in range(3):
        decoupled.apply_gradients([(grads[0], w2)])
    assert np.abs(w2.numpy() - ew).max() > 1e-6


def test_paper_sgd_round_trips_config():
    opt = optim.PaperSGD(0.02, weight_decay=1e-3, gradient_scales={"conv1": 0.25})
    again = optim.PaperSGD.from_config(opt.get_config())
    assert again.coupled_weight_decay == 1e-3 and float(again.learning_rate) == pytest.approx(0.02)
    assert again.gradient_scales == {"conv1": 0.25}


def test_gradient_scales_multiply_a_layers_loss_gradient_not_its_decay():
    """--grad-scale conv1=0.25: v <- 0.9 v - 0.0005 eps w - 0.25 eps g for conv1's kernel and
    bias; fc2's variables follow §5's rule unscaled."""
    eps, wd, s = 0.1, 5e-4, 0.25
    layers = [
        keras.Input((3,)),
        keras.layers.Dense(2, name="conv1"),
        keras.layers.Dense(1, name="fc2"),
    ]
    model = keras.Sequential(layers, name="net")
    opt = optim.PaperSGD(eps, momentum=0.9, weight_decay=wd, gradient_scales={"conv1": s})
    opt.build(model.trainable_variables)
    start = [v.numpy() for v in model.trainable_variables]
    grads = [np.full(v.shape, 0.5, "float32") for v in model.trainable_variables]
    expected, velocity = [w.copy() for w in start], [np.zeros_like(w) for w in start]
    for _ in range(3):
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        for i, v in enumerate(model.trainable_variables):
            scale = s if v.path.split("/")[-2] == "conv1" else 1.0
            decay = wd * expected[i] if v.path.endswith("kernel") else 0.0
            velocity[i] = 0.9 * velocity[i] - eps * decay - scale * eps * grads[i]
            expected[i] = expected[i] + velocity[i]
    for v, e in zip(model.trainable_variables, expected, strict=True):
        np.testing.assert_allclose(v.numpy(), e, rtol=1e-6, atol=1e-7, err_msg=v.path)
    assert [v.path for v in model.trainable_variables][0] == "net/conv1/kernel"


def test_weight_average_warms_up_then_decays_at_its_rate():
    """--ema: the average copies the weights after step 1, then decays at min(m, (1+t)/(10+t))
    after step t (tf.train.ExponentialMovingAverage's warm-up); m binds from t = 89 on."""
    w = keras.Variable(np.array([1.0, -1.0], "float32"))
    opt = optim.PaperSGD(0.1, momentum=0.0, weight_decay=0.0, use_ema=True, ema_momentum=0.9)
    opt.build([w])
    grad = np.array([1.0, 2.0], "float32")
    expected = None
    for t in range(200):
        opt.apply_gradients([(grad, w)])  # w <- w - 0.1 g
        decay = 0.0 if t == 0 else min(0.9, (1 + t) / (10 + t))
        expected = w.numpy() if t == 0 else decay * expected + (1 - decay) * w.numpy()
        if t in (1, 2):  # the warm-up, below m: 2/11 and 3/12
            np.testing.assert_allclose(opt._model_variables_moving_average[0], expected, rtol=1e-6)
    np.testing.assert_allclose(opt._model_variables_moving_average[0], expected, rtol=1e-5)
    # The average lags the weights, which move by -0.1 g a step, by 0.9 / (1 - 0.9) = 9 steps.
    np.testing.assert_allclose(expected - w.numpy(), 9 * 0.1 * grad, rtol=1e-3)


def test_averaged_weights_swaps_the_average_in_and_the_trained_weights_back():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    opt = optim.PaperSGD(0.5, use_ema=True, ema_momentum=0.99)
    model.compile(optimizer=opt)
    opt.build(model.trainable_variables)
    for _ in range(3):  # (model.fit would end by putting the average in: finalize_variable_values)
        opt.apply_gradients([(np.ones(v.shape, "float32"), v) for v in model.trainable_variables])
    trained = [v.numpy() for v in model.trainable_variables]
    average = [v.numpy() for v in model.optimizer._model_variables_moving_average]
    assert np.abs(trained[0] - average[0]).max() > 1e-3
    with optim.averaged_weights(model):
        for v, a in zip(model.trainable_variables, average, strict=True):
            np.testing.assert_array_equal(v.numpy(), a)
    for v, t in zip(model.trainable_variables, trained, strict=True):
        np.testing.assert_array_equal(v.numpy(), t)


def test_warmup_cosine():
    s = optim.WarmupCosine(0.1, total_steps=110, warmup_steps=10)
    assert float(s(0)) == pytest.approx(0.01)
    assert float(s(9)) == pytest.approx(0.1)
    assert float(s(10)) == pytest.approx(0.1)
    assert float(s(60)) == pytest.approx(0.05, rel=1e-5)
    assert float(s(110)) == pytest.approx(0.0, abs=1e-7)
    assert float(s(500)) == pytest.approx(0.0, abs=1e-7)
    # A time budget moves the end to step 60: the cosine is then halfway at step 35.
    s.set_total_steps(60)
    assert float(s(35)) == pytest.approx(0.05, rel=1e-5) and float(s(60)) == pytest.approx(0.0)
    assert s.get_config()["total_steps"] == 110  # the configured length, for reloading


def test_epochs_within_a_time_budget():
    from alexnet_tf.callbacks import epochs_within

    # 3 epochs took 30 minutes: 12 fit in 2 hours, capped by --epochs, never below the done.
    assert epochs_within(7200, 1800, 3, 60) == 12
    assert epochs_within(7200, 1800, 3, 10) == 10
    assert epochs_within(600, 1800, 3, 60) == 3
    assert epochs_within(7200, 0, 0, 60) == 60


def test_sparse_crossentropy_matches_keras():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 5)).astype("float32")
    y = rng.integers(0, 5, 6)
    plain = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, logits)
    np.testing.assert_allclose(optim.SparseCrossentropy()(y, logits), plain, rtol=1e-5)
    smooth = keras.losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(
        keras.ops.one_hot(y, 5), logits
    )
    np.testing.assert_allclose(optim.SparseCrossentropy(0.1)(y, logits), smooth, rtol=1e-5)


def test_plateau_rule_divides_by_ten_at_most_three_times():
    opt = optim.PaperSGD(0.01)
    rule = PlateauRule(patience=2)
    errors = [0.5, 0.4, 0.41, 0.42] + [0.45] * 20
    lrs = []
    for e in errors:
        rule.step(e, opt)
        lrs.append(float(np.asarray(opt.learning_rate)))
    assert lrs[2] == pytest.approx(0.01)  # one bad epoch: patience not yet exhausted
    assert lrs[3] == pytest.approx(0.001)  # two bad epochs: divided by 10
    assert lrs[-1] == pytest.approx(1e-5) and rule.state["reductions"] == 3
    resumed = PlateauRule(patience=2, state=dict(rule.state))
    assert resumed.state == rule.state
