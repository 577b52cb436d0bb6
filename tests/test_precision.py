"""Precision auto-selection: bfloat16 only where the hardware multiplies it natively."""

import io

from alexnet_tf import precision


def test_explicit_policies_pass_through(monkeypatch):
    monkeypatch.setenv("ALEXNET_PRECISION", "mixed_float16")
    assert precision.resolve("float32") == "float32"
    assert precision.resolve("auto") == "mixed_float16"  # the environment overrides auto


def test_cpu_flags(monkeypatch):
    def fake(flags):
        return lambda *a, **k: io.StringIO(f"processor: 0\nflags\t\t: fpu sse2 {flags}\n")

    monkeypatch.setattr("builtins.open", fake("avx512f amx_bf16 amx_tile"))
    assert precision.cpu_has_bf16()
    monkeypatch.setattr("builtins.open", fake("avx2 avx512f"))
    assert not precision.cpu_has_bf16()


def test_auto_on_this_machine(monkeypatch):
    monkeypatch.delenv("ALEXNET_PRECISION", raising=False)
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: True)
    assert precision.resolve("auto") == "mixed_bfloat16"  # no GPU in the test environment
    monkeypatch.setattr(precision, "cpu_has_bf16", lambda: False)
    assert precision.resolve("auto") == "float32"


def test_gpu_generations():
    assert precision.gpu_has_bf16({"compute_capability": (9, 0)})  # H100
    assert precision.gpu_has_bf16({"compute_capability": (8, 0)})  # A100
    assert not precision.gpu_has_bf16({"compute_capability": (7, 0)})  # V100: float16
    assert not precision.gpu_has_bf16({})


def test_cli_trains_with_auto_precision(tmp_path):
    """--precision auto resolves and trains (bf16 on AMX CPUs, float32 elsewhere)."""
    from conftest import run_module

    r = run_module(
        "alexnet_tf.train",
        "--dataset",
        "synthetic",
        "--precision",
        "auto",
        "--epochs",
        "1",
        "--steps-per-epoch",
        "1",
        "--batch-size",
        "4",
        "--num-examples",
        "8",
        "--workdir",
        tmp_path / "w",
        "--quiet",
    )
    assert r.returncode == 0, r.stderr
