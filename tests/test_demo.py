"""``pykernels demo --quick``: every section runs headless and writes the PNGs it names."""

import re

import pytest

from pykernels.cli import main

EXPECTED = {"activations.png", "decision_boundary.png", "loss_vs_evaluations.png",
            "flow_rosenbrock.png", "flow_himmelblau.png", "stationary_points.png",
            "lipschitz.png"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    import contextlib
    import io

    folder = tmp_path_factory.mktemp("demo")
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        assert main(["demo", "--quick", "--out", str(folder)]) == 0
    return folder, text.getvalue()


def test_writes_every_picture_it_names(demo):
    folder, text = demo
    named = re.findall(r"-> wrote (\S+)", text)
    assert {p.rsplit("/", 1)[-1] for p in named} == EXPECTED
    for path in named:
        data = open(path, "rb").read()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000
    assert sorted(p.name for p in folder.iterdir()) == sorted(EXPECTED)


def test_stationary_points_of_the_lecture_quartic(demo):
    _, text = demo
    kinds = re.findall(r"^\s+(\S+)\s+\S+\s+\S+\s+(minimum|maximum|inflection)$", text, re.M)
    assert [(round(float(x), 6), kind) for x, kind in kinds] == [
        (-3.618034, "minimum"), (-1.381966, "maximum"), (5.0, "minimum")]


def test_first_order_beats_zero_order_by_orders_of_magnitude(demo):
    _, text = demo
    ratios = [float(r) for r in re.findall(r"\((\d+)x fewer\)", text)]
    assert ratios and max(ratios) >= 100, text


def test_training_reaches_high_accuracy(demo):
    _, text = demo
    final = re.findall(r"^\s+\d+\s+\d\.\d+\s+(\d+\.\d)%$", text, re.M)
    assert final and float(final[-1]) > 95, text
