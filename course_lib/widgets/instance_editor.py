"""pix2pixHD's instance feature editor: pick an object, pick a feature cluster, re-render.

Wang et al., CVPR 2018, Sec. 3.4 and Fig. 7-8: a generator trained with instance-wise
features lets a user change one object's appearance (a car's colour, a road's texture) by
replacing its feature vector with another cluster centre of its class, leaving the rest of
the scene as it was. The editor does exactly that for one scene of the course's streets:

* every object starts with the features the encoder E extracts from the real photo (so the
  first rendering is the reconstruction);
* choosing an object (the dropdown lists them by class and size, the chosen one is outlined)
  and a cluster replaces that object's features with the cluster centre, and the scene is
  re-rendered by G;
* "reset" returns to the encoded features, "random scene" draws a random cluster for every
  object (the official ``sample_features``).

:func:`instance_editor` builds the ipywidgets version in JupyterLab. Without ipywidgets, or
with ``interactive=False`` (what notebooks do when they run unattended, e.g. under nbval), it
draws a static matplotlib figure instead: the scene with the chosen object outlined, then the
same scene with that object given each cluster in turn, and the object's mean colour in each.
"""
from __future__ import annotations

import importlib.util
import io
from typing import Any, Mapping, Sequence

import torch

from course_lib.models.clusters import FeatureClusters, instance_class
from course_lib.models.instance import instance_boundaries
from course_lib.train.pix2pixhd import Pix2PixHD

__all__ = ["InstanceEditor", "instance_editor", "widgets_available"]


def widgets_available() -> bool:
    """True when ipywidgets can be imported."""
    return importlib.util.find_spec("ipywidgets") is not None


class InstanceEditor:
    """State and rendering of the editor; :func:`instance_editor` is the usual entry point.

    Args:
        model: a trained :class:`~course_lib.train.pix2pixhd.Pix2PixHD` with features.
        clusters: the per-class cluster centres (:func:`~course_lib.experiment_pix2pixhd.fit_feature_clusters`).
        scene: one scene: a dict with ``"class_map"``, ``"instance_map"`` (H, W), ``"B"``
            (the photo, 3 x H x W) and optionally ``"A"`` (the colour-coded labels).
        class_names: names of the classes, for the object list.
        min_pixels: objects smaller than this are not offered.
    """

    def __init__(self, model: Pix2PixHD, clusters: FeatureClusters, scene: Mapping[str, Any],
                 class_names: Sequence[str] | None = None, min_pixels: int = 20) -> None:
        if not model.config.use_features or model.E is None:
            raise ValueError("the editor needs a model trained with instance features "
                             "(Pix2PixHDConfig(use_features=True))")
        for key in ("class_map", "instance_map", "B"):
            if key not in scene:
                raise ValueError(f"scene lacks {key!r}: pass one item of SyntheticStreets")
        self.model, self.clusters = model, clusters
        self.class_map = scene["class_map"].long().cpu()
        self.instance_map = scene["instance_map"].long().cpu()
        self.photo = scene["B"].float().cpu()
        self.labels = scene.get("A")
        self.class_names = list(class_names) if class_names is not None else None
        device = next(model.G.parameters()).device
        with torch.no_grad():
            flag = model.E.training
            model.E.eval()
            self.encoded = model.E(self.photo[None].to(device),
                                   self.instance_map[None].to(device)).float().cpu()
            model.E.train(flag)
        self.choices: dict[int, int] = {}
        ids, counts = torch.unique(self.instance_map, return_counts=True)
        objs = [(int(i), int(c)) for i, c in zip(ids, counts)
                if int(instance_class(torch.tensor(int(i)))) in clusters.centres
                and int(c) >= min_pixels]
        if not objs:
            raise ValueError("no object of this scene belongs to a class with clusters")
        self.objects = sorted(objs, key=lambda t: (-t[1], t[0]))      # largest first
        things = [o for o in self.objects if o[0] >= 1000]
        self.selected = (things or self.objects)[0][0]

    # -- content ------------------------------------------------------------------------
    def name(self, instance_id: int) -> str:
        c = int(instance_class(torch.tensor(instance_id)))
        label = self.class_names[c] if self.class_names and c < len(self.class_names) else \
            f"class {c}"
        size = dict(self.objects).get(instance_id, 0)
        return f"{label} {instance_id} ({size} px)"

    def num_clusters(self, instance_id: int | None = None) -> int:
        i = self.selected if instance_id is None else instance_id
        return len(self.clusters.centres[int(instance_class(torch.tensor(i)))])

    def features(self, choices: Mapping[int, int] | None = None) -> torch.Tensor:
        """G's feature channels (1, F, H, W): encoded, with the chosen objects replaced."""
        choices = self.choices if choices is None else choices
        out = self.encoded.clone()
        for i, k in choices.items():
            bank = self.clusters.centres[int(instance_class(torch.tensor(i)))]
            if not 0 <= k < len(bank):
                raise ValueError(f"object {i} has clusters 0..{len(bank) - 1}, got {k}")
            out[0][:, self.instance_map == i] = bank[k].view(-1, 1)
        return out

    @torch.no_grad()
    def render(self, choices: Mapping[int, int] | None = None) -> torch.Tensor:
        """The scene rendered by G with the given (default: current) choices: (3, H, W)."""
        flags = {k: m.training for k, m in self.model.modules.items()}
        for m in self.model.modules.values():
            m.eval()
        try:
            out = self.model.generate(self.class_map[None], self.instance_map[None],
                                      self.features(choices))
        finally:
            for k, m in self.model.modules.items():
                m.train(flags[k])
        return out[0].float().cpu()

    def random_choices(self, seed: int) -> dict[int, int]:
        gen = torch.Generator().manual_seed(seed)
        return {i: int(torch.randint(self.num_clusters(i), (1,), generator=gen))
                for i, _ in self.objects}

    def outline(self, image: torch.Tensor, instance_id: int | None = None) -> torch.Tensor:
        """``image`` (3, H, W) with the object's boundary painted yellow."""
        i = self.selected if instance_id is None else instance_id
        mask = (self.instance_map == i)
        edge = instance_boundaries(mask.long()).bool() & mask
        out = image.clone()
        out[:, edge] = torch.tensor([1.0, 1.0, -1.0]).view(3, 1)
        return out

    def object_colour(self, image: torch.Tensor, instance_id: int | None = None) -> torch.Tensor:
        """Mean RGB (in [-1, 1]) of the object in ``image``."""
        i = self.selected if instance_id is None else instance_id
        return image[:, self.instance_map == i].mean(1)

    # -- static figure ------------------------------------------------------------------
    def figure(self, instance_id: int | None = None, max_clusters: int = 6, size: float = 2.0
               ):  # type: ignore[no-untyped-def]
        """The non-interactive version: photo and reconstruction with the object outlined,
        then the scene with that object given clusters 0, 1, ...; returns the figure."""
        import matplotlib.pyplot as plt

        from course_lib.viz import to_display

        if instance_id is not None:
            self.selected = int(instance_id)
        k = min(self.num_clusters(), max_clusters)
        panels = [("real photo", self.photo), ("encoded features", self.render({}))]
        for c in range(k):
            panels.append((f"cluster {c}", self.render({**self.choices, self.selected: c})))
        h, w = self.photo.shape[-2:]
        ncols = min(4, len(panels))
        nrows = (len(panels) + ncols - 1) // ncols
        fig, axes = plt.subplots(nrows, ncols, figsize=(size * w / h * ncols, size * nrows),
                                 squeeze=False)
        for ax in axes.flat:
            ax.axis("off")
        for ax, (title, img) in zip(axes.flat, panels):
            ax.imshow(to_display(self.outline(img)))
            rgb = ((self.object_colour(img) + 1) * 127.5).round().int().tolist()
            ax.set_title(f"{title}\nobject RGB {tuple(rgb)}", fontsize=10)
        fig.suptitle(f"editing {self.name(self.selected)} (outlined)", fontsize=10)
        fig.tight_layout()
        return fig

    # -- widgets ------------------------------------------------------------------------
    def widget(self, scale: int = 3) -> Any:
        """The ipywidgets version: object list, cluster buttons, reset / random, two images."""
        import ipywidgets as w

        from course_lib.widgets.frontend import enable_colab_widgets

        enable_colab_widgets()                 # Colab + ipywidgets 8 only

        h, wd = self.photo.shape[-2:]
        shown = w.Image(format="png", width=wd * scale, height=h * scale)
        real = w.Image(format="png", width=wd * scale // 2, height=h * scale // 2)
        pick = w.Dropdown(options=[(self.name(i), i) for i, _ in self.objects],
                          value=self.selected, description="object",
                          layout=w.Layout(width="320px"))
        cluster = w.ToggleButtons(options=self._cluster_options(), value=self._current(),
                                  description="cluster", style={"button_width": "48px"})
        reset, rand = w.Button(description="reset (encoded)"), w.Button(description="random scene")
        info = w.HTML()
        busy = {"flag": False, "seed": 0}

        def draw() -> None:
            img = self.render()
            shown.value = _png(self.outline(img))
            rgb = ((self.object_colour(img) + 1) * 127.5).round().int().tolist()
            which = self.choices.get(self.selected)
            info.value = (f"<b>{self.name(self.selected)}</b>: "
                          f"{'encoded features' if which is None else f'cluster {which}'}, "
                          f"mean colour RGB {tuple(rgb)}")

        def on_pick(change: Any) -> None:
            self.selected = int(change["new"])
            busy["flag"] = True
            cluster.options = self._cluster_options()
            cluster.value = self._current()
            busy["flag"] = False
            real.value = _png(self.outline(self.photo))
            draw()

        def on_cluster(change: Any) -> None:
            if busy["flag"]:
                return
            if change["new"] < 0:
                self.choices.pop(self.selected, None)
            else:
                self.choices[self.selected] = int(change["new"])
            draw()

        def on_reset(_: Any) -> None:
            self.choices = {}
            busy["flag"] = True
            cluster.value = -1
            busy["flag"] = False
            draw()

        def on_random(_: Any) -> None:
            busy["seed"] += 1
            self.choices = self.random_choices(busy["seed"])
            busy["flag"] = True
            cluster.value = self._current()
            busy["flag"] = False
            draw()

        pick.observe(on_pick, names="value")
        cluster.observe(on_cluster, names="value")
        reset.on_click(on_reset)
        rand.on_click(on_random)
        real.value = _png(self.outline(self.photo))
        draw()
        return w.VBox([w.HBox([pick, reset, rand]), cluster, info,
                       w.HBox([w.VBox([w.HTML("<b>G(labels, boundaries, features)</b>"),
                                       shown]),
                               w.VBox([w.HTML("<b>real photo</b>"), real])])])

    def _cluster_options(self) -> list[tuple[str, int]]:
        return [("enc", -1)] + [(str(c), c) for c in range(self.num_clusters())]

    def _current(self) -> int:
        return self.choices.get(self.selected, -1)


def _png(image: torch.Tensor) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    arr = ((image.permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy()
    plt.imsave(buf, arr, format="png")
    return buf.getvalue()


def instance_editor(model: Pix2PixHD, clusters: FeatureClusters, scene: Mapping[str, Any],
                    interactive: bool | None = None, class_names: Sequence[str] | None = None,
                    instance_id: int | None = None) -> Any:
    """Edit one street scene object by object (Sec. 3.4).

    Args:
        model: a trained pix2pixHD with instance features.
        clusters: the per-class feature clusters.
        scene: one item of the streets dataset (``"class_map"``, ``"instance_map"``, ``"B"``).
        interactive: ``True`` for the ipywidgets editor, ``False`` for the static figure;
            ``None`` picks the widgets when ipywidgets is installed.
        class_names: class names for the object list (``SyntheticStreets.class_names``).
        instance_id: the object to start with (default: the largest car or person).

    Returns:
        in a notebook, the tool shows itself once (a PNG snapshot saved with the notebook,
        then the live widget; or the static figure) and returns a ``Shown`` holding
        ``.widget`` / ``.figure``, which draws nothing more, so a trailing ``;`` changes
        nothing; elsewhere, the widget or the matplotlib figure.
    """
    editor = InstanceEditor(model, clusters, scene, class_names)
    if instance_id is not None:
        if instance_id not in dict(editor.objects):
            raise ValueError(f"instance {instance_id} is not an editable object of this scene; "
                             f"choose from {[i for i, _ in editor.objects]}")
        editor.selected = int(instance_id)
    if interactive is None:
        interactive = widgets_available()
    if interactive and not widgets_available():
        raise ModuleNotFoundError("interactive=True needs ipywidgets (pip install ipywidgets); "
                                  "use interactive=False for a static figure")
    from course_lib.widgets.snapshot import present
    return present(editor, interactive)     # in a notebook: shown once, with a saved snapshot
