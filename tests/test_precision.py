"""CPU kernel choices: bfloat16 only where it trains faster than float32; the oneDNN advice."""

import io

from alexnet_tf import precision


def test_explicit_policies_pass_through(monkeypatch):
    monkeypatch.setenv("ALEXNET_PRECISION", "mixed_float16")
    assert precision.resolve("float32") == "float32"
    assert precision.resolve("auto") == "mixed_float16"  # the environment overrides auto


def _fake_cpuinfo(monkeypatch, vendor, flags):
    text = f"processor: 0\nvendor_id\t: {vendor}\nflags\t\t: fpu sse2 {flags}\n"
    monkeypatch.setattr("builtins.open", lambda *a, **k: io.StringIO(text))


def test_cpu_flags(monkeypatch):
    _fake_cpuinfo(monkeypatch, "GenuineIntel", "avx512f amx_bf16 amx_tile")
    assert precision.cpu_has_bf16()
    _fake_cpuinfo(monkeypatch, "GenuineIntel", "avx2 avx512f")
    assert not precision.cpu_has_bf16()


def test_cpu_fields_are_the_first_cpus(monkeypatch):
    """One reader of /proc/cpuinfo for the precision and the recorded host (machine.py)."""
    from alexnet_tf import machine

    text = "processor\t: 0\nmodel name\t: AMD EPYC 9B14\nflags\t\t: avx512_bf16\n\n"
    text += "processor\t: 1\nmodel name\t: other\nflags\t\t: amx_bf16\n"
    monkeypatch.setattr("builtins.open", lambda *a, **k: io.StringIO(text))
    assert precision.cpu_fields() == {
        "processor": "0", "model name": "AMD EPYC 9B14", "flags": "avx512_bf16"
    }  # fmt: skip
    assert machine.cpu_model() == "AMD EPYC 9B14"
    assert not precision.cpu_bf16_is_faster()  # no vendor_id: not known to be AMD


def test_bf16_only_where_it_is_faster(monkeypatch):
    """Measured (BENCHMARKS.md): AMX and AMD's AVX512-BF16 train faster in bf16; Intel's
    AVX512-BF16 without AMX trains 1.7x slower in bf16 than in float32."""
    cases = [
        ("GenuineIntel", "avx512f avx512_bf16 amx_bf16 amx_tile", True),  # Sapphire Rapids+
        ("AuthenticAMD", "avx512f avx512_bf16", True),  # Zen 4
        ("GenuineIntel", "avx512f avx512_bf16 avx512_fp16", False),  # AMX hidden (this VM)
        ("AuthenticAMD", "avx2 fma", False),  # Zen 3: no bf16 at all
    ]
    for vendor, flags, faster in cases:
        _fake_cpuinfo(monkeypatch, vendor, flags)
        assert precision.cpu_bf16_is_faster() is faster, (vendor, flags)
        assert precision.cpu_has_bf16() == ("bf16" in flags)


def test_auto_on_this_machine(monkeypatch):
    monkeypatch.delenv("ALEXNET_PRECISION", raising=False)
    monkeypatch.setattr(precision, "cpu_bf16_is_faster", lambda: True)
    assert precision.resolve("auto") == "mixed_bfloat16"  # no GPU in the test environment
    monkeypatch.setattr(precision, "cpu_bf16_is_faster", lambda: False)
    assert precision.resolve("auto") == "float32"


def test_gpu_generations():
    assert precision.gpu_has_bf16({"compute_capability": (9, 0)})  # H100
    assert precision.gpu_has_bf16({"compute_capability": (8, 0)})  # A100
    assert not precision.gpu_has_bf16({"compute_capability": (7, 0)})  # V100: float16
    assert not precision.gpu_has_bf16({})


def test_onednn_advice_only_when_tensorflow_came_first_and_left_it_off():
    from alexnet_tf.cli import onednn_advice

    line = onednn_advice(True, None, False)
    assert "import alexnet_tf first" in line and "TF_ENABLE_ONEDNN_OPTS=1" in line
    assert "\n" not in line and onednn_advice(True, "", False) == line  # empty is unset
    assert onednn_advice(True, "0", False) is None  # the user chose it
    assert onednn_advice(True, None, True) is None  # TensorFlow's own default (AVX512 CPUs)
    assert onednn_advice(False, None, False) is None  # alexnet_tf came first: its "1" applied
