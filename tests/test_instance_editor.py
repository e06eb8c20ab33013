"""The instance feature editor (pix2pixHD Sec. 3.4): edits, static fallback, widget."""
from __future__ import annotations

import matplotlib
import pytest
import torch

from course_lib.data import InMemoryPairs, SyntheticStreets
from course_lib.models import (FeatureClusters, GlobalGenerator, InstanceEncoder,
                               MultiscaleDiscriminator)
from course_lib.train.pix2pixhd import Pix2PixHD, Pix2PixHDConfig
from course_lib.widgets.instance_editor import InstanceEditor, instance_editor

matplotlib.use("Agg")


@pytest.fixture(scope="module")
def setup() -> tuple[Pix2PixHD, FeatureClusters, dict]:
    torch.manual_seed(0)
    model = Pix2PixHD(GlobalGenerator(12, 3, ngf=4, n_downsampling=2, n_blocks=1),
                      MultiscaleDiscriminator(12, ndf=4, n_layers=2, num_D=1),
                      Pix2PixHDConfig(num_classes=8, use_features=True),
                      encoder=InstanceEncoder(3, 3, nef=4, n_downsampling=2))
    # Two very different clusters per class, so an edit must change the pixels.
    centres = {c: torch.tensor([[-1.0, -1.0, -1.0], [1.0, 1.0, 1.0]]) for c in range(8)}
    scene = InMemoryPairs(SyntheticStreets(image_size=(32, 64), split="val"), 1,
                          progress=False)[0]
    return model, FeatureClusters(centres, 3), scene


def test_editing_one_object_changes_only_its_features(setup) -> None:  # type: ignore[no-untyped-def]
    model, clusters, scene = setup
    ed = InstanceEditor(model, clusters, scene, SyntheticStreets.class_names)
    assert ed.selected >= 1000                       # starts on the largest car or person
    base = ed.features({})
    edited = ed.features({ed.selected: 1})
    inside = scene["instance_map"] == ed.selected
    assert torch.equal(base[0][:, ~inside], edited[0][:, ~inside])
    assert torch.allclose(edited[0][:, inside], torch.ones(3, int(inside.sum())))
    assert not torch.equal(ed.render({ed.selected: 0}), ed.render({ed.selected: 1}))
    assert ed.render({}).shape == scene["B"].shape
    with pytest.raises(ValueError, match="clusters 0..1"):
        ed.features({ed.selected: 2})


def test_static_fallback_and_widget(setup) -> None:  # type: ignore[no-untyped-def]
    model, clusters, scene = setup
    fig = instance_editor(model, clusters, scene, interactive=False)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert "cluster 1" in " ".join(ax.get_title() for ax in fig.axes)
    ui = instance_editor(model, clusters, scene, interactive=True,
                         class_names=SyntheticStreets.class_names)
    import ipywidgets

    assert isinstance(ui, ipywidgets.VBox)
    with pytest.raises(ValueError, match="not an editable object"):
        instance_editor(model, clusters, scene, interactive=False, instance_id=123456)


def test_editor_needs_a_feature_model(setup) -> None:  # type: ignore[no-untyped-def]
    _, clusters, scene = setup
    plain = Pix2PixHD(GlobalGenerator(9, 3, ngf=4, n_downsampling=2, n_blocks=1),
                      MultiscaleDiscriminator(12, ndf=4, n_layers=2, num_D=1),
                      Pix2PixHDConfig(num_classes=8))
    with pytest.raises(ValueError, match="use_features=True"):
        InstanceEditor(plain, clusters, scene)
