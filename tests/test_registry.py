"""The registry (fovex_lib.registry): one front door for every method, named presets, seeds."""

import json
from pathlib import Path

import pytest
import torch

import fovex_lib
from fovex_lib import applicable_methods, list_methods, make_explainer
from fovex_lib.models.zoo import load_model
from fovex_lib.registry import METHODS, PRESETS, list_presets, method_settings
from fovex_lib.tools.cache import explainer_settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def models():
    return {"cnn": load_model("synthetic_cnn"), "vit": load_model("synthetic_vit")}


@pytest.fixture(scope="module")
def image():
    return torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))


def _model_for(name, models):
    return models["vit"] if name in ("gae", "cls_embedding") else models["cnn"]


def test_front_door_at_the_package_root():
    for name in ("make_explainer", "list_methods", "applicable_methods"):
        assert name in fovex_lib.__all__
    assert fovex_lib.make_explainer is fovex_lib.registry.make_explainer
    # FovEx is not a baseline: the registry does not live in (nor is re-exported by) baselines
    import fovex_lib.baselines as baselines

    assert not any(hasattr(baselines, n) for n in ("make_explainer", "METHODS", "FAST_SETTINGS"))


def test_list_methods(models):
    assert (
        list_methods()
        == list(METHODS)
        == ["fovex", "gradcam", "gradcam++", "random_cam", "rise", "meaningful_perturbation", "gae", "cls_embedding"]
    )
    assert list_methods() is not list_methods()  # a copy: callers may change it
    assert fovex_lib.registry.method_names() == list_methods()
    assert applicable_methods(models["vit"]) == list_methods()
    assert applicable_methods(models["cnn"]) == [n for n in list_methods() if n not in ("gae", "cls_embedding")]


def test_presets_and_overrides(models):
    cnn = models["cnn"]
    assert list_presets()[:2] == ["paper", "fast"]
    for preset in (None, "paper"):  # the class defaults: the published settings
        assert make_explainer("rise", cnn, preset=preset).n_masks == 4000
        fovex = make_explainer("fovex", cnn, preset=preset)
        assert (fovex.scanpath_length, fovex.steps) == (10, 20)
    assert make_explainer("rise", cnn, preset="fast").n_masks == 300
    assert make_explainer("meaningful_perturbation", cnn, preset="fast").iterations == 50
    fovex = make_explainer("fovex", cnn, preset="fast")
    assert (fovex.scanpath_length, fovex.steps) == (5, 10)
    rise = make_explainer("RISE", cnn, preset="gaze")  # names are case-insensitive
    assert (rise.n_masks, rise.batch_size) == (100, 50)
    # keyword arguments win over the preset; the preset's other values stay
    rise = make_explainer("rise", cnn, preset="gaze", n_masks=7, seed=3)
    assert (rise.n_masks, rise.batch_size, rise.seed) == (7, 50, 3)
    # a method the preset does not list keeps its defaults
    assert make_explainer("random_cam", cnn, preset="fast").seed == 0
    # the table itself is not changed by a call
    assert PRESETS["gaze"]["rise"] == {"n_masks": 100, "batch_size": 50}


def test_every_preset_builds_every_method(models):
    for preset, table in PRESETS.items():
        assert set(table) <= set(METHODS), preset
        for name in list_methods():
            explainer = make_explainer(name, _model_for(name, models), preset=preset, seed=1)
            for key, value in table.get(name, {}).items():
                assert getattr(explainer, key) == value, (preset, name, key)


def test_presets_reproduce_the_stored_tables():
    """book/data/*.csv were computed with these values; the chapters assert that they are reproduced."""
    ch6 = json.loads((REPO / "book/data/ch6_metrics.provenance.json").read_text())["parameters"]
    assert ch6["fast"] is True  # stored before presets: fast=True (+ natural_fast on the photos)
    fovex_short = {"scanpath_length": 5, "steps": 10}
    assert PRESETS["fast"] == {
        "fovex": fovex_short,
        "rise": {"n_masks": 300},
        "meaningful_perturbation": {"iterations": 50},
    }
    photos = {m: {**PRESETS["fast"].get(m, {}), **ch6["natural_fast"].get(m, {})} for m in PRESETS["fast"]}
    assert PRESETS["metrics_photos"] == photos
    appendix_a = json.loads((REPO / "book/data/A_energy_in_box.provenance.json").read_text())["parameters"]
    assert {k: appendix_a[k] for k in fovex_short} == PRESETS["fast"]["fovex"]
    # chapters 5 and 7: their committed notebook outputs were computed with these
    assert PRESETS["tour"] == {
        "fovex": fovex_short,
        "rise": {"n_masks": 200},
        "meaningful_perturbation": {"iterations": 30},
    }
    assert PRESETS["gaze"] == {
        "fovex": fovex_short,
        "rise": {"n_masks": 100, "batch_size": 50},
        "meaningful_perturbation": {"iterations": 25},
    }
    from fovex_lib.bench import QUICK_SETTINGS

    assert (QUICK_SETTINGS["scanpath_length"], QUICK_SETTINGS["steps"]) == (2, 2)


def test_unknown_or_malformed_preset(models):
    with pytest.raises(ValueError, match=r"unknown preset 'turbo'; choose one of \['paper', 'fast', .*None"):
        make_explainer("rise", models["cnn"], preset="turbo")
    with pytest.raises(TypeError, match="preset must be a preset name.*keyword arguments"):
        make_explainer("rise", models["cnn"], preset={"rise": {"n_masks": 10}})
    with pytest.raises(ValueError, match="unknown preset"):
        method_settings("rise", "turbo")
    with pytest.raises(ValueError, match=r"unknown method 'lime'; choose one of \['fovex'"):
        make_explainer("lime", models["cnn"], preset="fast")
    with pytest.raises(TypeError, match="method name must be a string"):
        method_settings(3)


def test_every_method_accepts_seed(models, image):
    """One call fits all: seed is taken by every method and changes the maps only where it is used."""
    for name in list_methods():
        model = _model_for(name, models)
        info = METHODS[name]
        maps = [make_explainer(name, model, preset="quick", seed=s)(image, target=0).saliency for s in (0, 7)]
        assert maps[0].shape == (1, 1, 64, 64), name
        # the class itself takes it too (no signature probing needed)
        described = [explainer_settings(info.factory(model, seed=s)) for s in (0, 7)]
        if not info.seeded:  # checked, ignored, and kept out of cache keys
            assert torch.equal(maps[0], maps[1]), name
            assert "seed" not in method_settings(name, "quick", seed=7)
            assert described[0] == described[1] and "seed" not in described[0], name
        else:
            assert method_settings(name, "quick", seed=7)["seed"] == 7
            assert (described[0]["seed"], described[1]["seed"]) == (0, 7), name
        with pytest.raises(ValueError, match=r"seed must lie in \[0, 2\*\*63\)"):
            make_explainer(name, model, seed=-1)
        with pytest.raises(TypeError, match="seed must be an int"):
            make_explainer(name, model, seed=1.5)
    # random methods do depend on it
    cnn = models["cnn"]
    a, b = (make_explainer("random_cam", cnn, seed=s)(image, target=0).saliency for s in (1, 2))
    assert not torch.equal(a, b)


def test_method_settings_are_what_make_explainer_passes():
    assert method_settings("rise", "fast", seed=0) == {"n_masks": 300, "seed": 0}
    assert method_settings("meaningful_perturbation", "metrics_photos", seed=0) == {"iterations": 20}
    assert method_settings("gradcam", "fast", seed=0) == {}
    assert method_settings("fovex", "fast", seed=2, steps=3) == {"scanpath_length": 5, "steps": 3, "seed": 2}
    assert method_settings("fovex") == {}
    assert list(method_settings("rise", "gaze", seed=0)) == ["n_masks", "batch_size", "seed"]  # stable order


def test_book_never_probes_signatures():
    for source in sorted(REPO.glob("book/*/*.md")):
        assert "inspect.signature" not in source.read_text(encoding="utf-8"), source.name
