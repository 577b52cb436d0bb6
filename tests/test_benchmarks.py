"""The towers benchmark runs at a tiny size and reports what it promises (never a speed)."""

import json

from benchmarks import towers


def test_towers_benchmark_reports_all_variants(tmp_path, capsys):
    out = tmp_path / "towers.json"
    args = ["--model", "alexnet_cifar", "--batch-size", "2", "--steps", "1", "--jit", "off"]
    assert towers.main([*args, "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    variants = [r["variant"] for r in result["results"]]
    assert len(variants) == 3 and any("groups=2" in v for v in variants)
    assert all(r["images_per_second"] > 0 and r["xla"] is False for r in result["results"])
    text = capsys.readouterr().out
    assert "split towers / keras groups" in text and "split towers / no towers" in text
