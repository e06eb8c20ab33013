"""BicycleGAN's latent explorer: what each code z does to the output for one input.

Zhu et al., NeurIPS 2017, show in Fig. 1 and 6 that a trained BicycleGAN gives a different
plausible output for every z drawn from N(0, I), and that the latent space is smooth enough to
interpolate (the official code's ``video.py`` walks along such paths). The explorer lets a
learner see both for any generator ``G(a, z)``:

* **sliders over z** -- one slider per latent dimension (``nz``, 8 by default), the output
  redrawn as they move, with buttons for a random code and for the origin;
* **a grid of samples** -- the outputs for a fixed set of random codes;
* **interpolation** -- the outputs along the straight line from the sliders' code to another
  random code.

:func:`latent_explorer` builds the ipywidgets version in JupyterLab. When ipywidgets is missing,
or with ``interactive=False`` (what the notebooks do when they run unattended, e.g. under
nbval), it draws the same content as one static matplotlib figure: the grid, the interpolation
and a sweep of the first latent dimension.
"""
from __future__ import annotations

import importlib.util
import io
from typing import Any

import torch
from torch import nn

from course_lib.models.unet import at_test_time

__all__ = ["interpolate_latents", "generate_for_codes", "LatentExplorer", "latent_explorer",
           "widgets_available"]


def widgets_available() -> bool:
    """True when ipywidgets can be imported."""
    return importlib.util.find_spec("ipywidgets") is not None


def interpolate_latents(z0: torch.Tensor, z1: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """``steps`` codes evenly spaced on the segment from ``z0`` to ``z1`` (both included):
    (steps, nz)."""
    if z0.shape != z1.shape or z0.dim() != 1:
        raise ValueError(f"z0 and z1 must be two codes of the same shape (nz,), got "
                         f"{tuple(z0.shape)} and {tuple(z1.shape)}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    t = torch.linspace(0, 1, steps, dtype=z0.dtype)[:, None]
    return (1 - t) * z0[None] + t * z1[None]


@torch.no_grad()
def generate_for_codes(generator: nn.Module, a: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """G(a, z) for one input ``a`` (C, H, W) and each code of ``codes`` (S, nz): (S, C', H, W)
    on the CPU, with G in eval mode (its flags restored afterwards)."""
    if a.dim() != 3:
        raise ValueError(f"a must be one input image (C, H, W), got {tuple(a.shape)}")
    if codes.dim() != 2:
        raise ValueError(f"codes must be (S, nz), got {tuple(codes.shape)}")
    device = next(generator.parameters()).device
    with at_test_time(generator, "eval"):
        out = generator(a[None].expand(codes.shape[0], -1, -1, -1).to(device), codes.to(device))
    return out.float().cpu()


def _strip(images: torch.Tensor) -> torch.Tensor:
    """(S, 3, H, W) in [-1, 1] -> one (H, S*W, 3) image in [0, 1] with 2 px white gaps."""
    s, _, h, w = images.shape
    out = torch.ones(h, s * (w + 2) - 2, 3)
    for i in range(s):
        out[:, i * (w + 2):i * (w + 2) + w] = ((images[i].permute(1, 2, 0) + 1) / 2).clamp(0, 1)
    return out


def _png(image: torch.Tensor) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    plt.imsave(buf, image.numpy(), format="png")
    return buf.getvalue()


class LatentExplorer:
    """The explorer's state and drawing; :func:`latent_explorer` is the usual entry point.

    Args:
        generator: ``G(a, z)`` with an ``nz`` attribute.
        inputs: (N, C, H, W) inputs to choose from.
        num_samples: codes in the grid of samples.
        steps: codes along the interpolation.
        seed: seeds the grid's codes and the random buttons (the global RNG is untouched).
        slider_range: the sliders span ``[-slider_range, slider_range]``.
    """

    def __init__(self, generator: nn.Module, inputs: torch.Tensor, num_samples: int = 8,
                 steps: int = 8, seed: int = 0, slider_range: float = 3.0) -> None:
        nz = int(getattr(generator, "nz", 0) or 0)
        if nz < 1:
            raise ValueError("the generator has no attribute nz: the explorer needs G(a, z) "
                             "such as LatentUNetGenerator")
        if inputs.dim() == 3:
            inputs = inputs[None]
        if inputs.dim() != 4 or inputs.shape[0] < 1:
            raise ValueError(f"inputs must be (N, C, H, W), got {tuple(inputs.shape)}")
        self.G, self.inputs, self.nz = generator, inputs.detach().cpu(), nz
        self.num_samples, self.steps, self.slider_range = num_samples, steps, slider_range
        self.rng = torch.Generator().manual_seed(seed)
        self.grid_codes = torch.randn(num_samples, nz, generator=self.rng)
        self.index = 0
        self.z = torch.zeros(nz)
        self.z_end = torch.randn(nz, generator=self.rng)

    # -- content ------------------------------------------------------------------------
    def output(self) -> torch.Tensor:
        """G(input, z) for the current input and code: (3, H, W)."""
        return generate_for_codes(self.G, self.inputs[self.index], self.z[None])[0]

    def grid(self) -> torch.Tensor:
        """Outputs for the fixed random codes: (num_samples, 3, H, W)."""
        return generate_for_codes(self.G, self.inputs[self.index], self.grid_codes)

    def interpolation(self) -> torch.Tensor:
        """Outputs from the current code to ``z_end``: (steps, 3, H, W)."""
        return generate_for_codes(self.G, self.inputs[self.index],
                                  interpolate_latents(self.z, self.z_end, self.steps))

    def sweep(self, dim: int = 0) -> torch.Tensor:
        """Outputs as latent dimension ``dim`` goes from -2 to 2, the others at the current z."""
        if not 0 <= dim < self.nz:
            raise ValueError(f"dim must be in [0, {self.nz}), got {dim}")
        codes = self.z[None].repeat(self.steps, 1)
        codes[:, dim] = torch.linspace(-2, 2, self.steps)
        return generate_for_codes(self.G, self.inputs[self.index], codes)

    def random_code(self) -> torch.Tensor:
        return torch.randn(self.nz, generator=self.rng)

    # -- static figure ------------------------------------------------------------------
    def figure(self, size: float = 1.4):  # type: ignore[no-untyped-def]
        """The non-interactive version: input, grid of samples, interpolation and a sweep of
        z[0], one row each; returns the matplotlib figure."""
        import matplotlib.pyplot as plt

        from course_lib.viz import to_display

        rows = [("random codes z ~ N(0, I)", self.grid()),
                ("interpolation z -> z'", self.interpolation()),
                ("z[0] from -2 to 2", self.sweep(0))]
        ncols = 1 + max(r[1].shape[0] for r in rows)
        fig, axes = plt.subplots(len(rows), ncols, figsize=(size * ncols, size * len(rows)),
                                 squeeze=False)
        for r, (label, images) in enumerate(rows):
            for c in range(ncols):
                axes[r, c].axis("off")
            axes[r, 0].imshow(to_display(self.inputs[self.index]))
            axes[r, 0].set_title("input", fontsize=10)
            for c in range(images.shape[0]):
                axes[r, c + 1].imshow(to_display(images[c]))
            axes[r, 1].set_title(label, fontsize=10, loc="left")
        fig.tight_layout()
        return fig

    # -- widgets ------------------------------------------------------------------------
    def widget(self, scale: int = 3) -> Any:
        """The ipywidgets version (needs ipywidgets): sliders, buttons and three images."""
        import ipywidgets as w

        from course_lib.widgets.frontend import enable_colab_widgets

        enable_colab_widgets()                 # Colab + ipywidgets 8 only

        h, wd = self.inputs.shape[-2:]
        big = w.Image(format="png", width=wd * scale, height=h * scale)
        grid = w.Image(format="png", height=h * scale // 2 * 2)
        interp = w.Image(format="png", height=h * scale // 2 * 2)
        source = w.Image(format="png", width=wd * scale, height=h * scale)
        sliders = [w.FloatSlider(value=0.0, min=-self.slider_range, max=self.slider_range,
                                 step=0.05, description=f"z[{i}]", continuous_update=False,
                                 layout=w.Layout(width="320px")) for i in range(self.nz)]
        pick = w.IntSlider(value=0, min=0, max=self.inputs.shape[0] - 1,
                           description="input", continuous_update=False)
        rand_btn, zero_btn = w.Button(description="random z"), w.Button(description="z = 0")
        end_btn = w.Button(description="new end point z'")
        busy = {"flag": False}

        def draw_output() -> None:
            big.value = _png(_strip(self.output()[None]))

        def draw_interp() -> None:
            interp.value = _png(_strip(self.interpolation()))

        def draw_all() -> None:
            source.value = _png(_strip(self.inputs[self.index][None].expand(1, 3, -1, -1)))
            grid.value = _png(_strip(self.grid()))
            draw_output()
            draw_interp()

        def on_slider(_: Any) -> None:
            if busy["flag"]:
                return
            self.z = torch.tensor([s.value for s in sliders])
            draw_output()
            draw_interp()

        def set_sliders(z: torch.Tensor) -> None:
            busy["flag"] = True
            for s, v in zip(sliders, z.tolist()):
                s.value = max(-self.slider_range, min(self.slider_range, v))
            busy["flag"] = False
            on_slider(None)

        def on_pick(change: Any) -> None:
            self.index = int(change["new"])
            draw_all()

        def on_end(_: Any) -> None:
            self.z_end = self.random_code()
            draw_interp()

        for s in sliders:
            s.observe(on_slider, names="value")
        pick.observe(on_pick, names="value")
        rand_btn.on_click(lambda _: set_sliders(self.random_code()))
        zero_btn.on_click(lambda _: set_sliders(torch.zeros(self.nz)))
        end_btn.on_click(on_end)
        draw_all()
        label = w.HTML
        left = w.VBox([pick, w.HBox([rand_btn, zero_btn]), *sliders])
        right = w.VBox([w.HBox([w.VBox([label("<b>input</b>"), source]),
                                w.VBox([label("<b>G(input, z)</b>"), big])])])
        return w.VBox([w.HBox([left, right]),
                       label(f"<b>a grid of samples</b> ({self.num_samples} random codes)"), grid,
                       w.HBox([label("<b>interpolation</b> from the sliders' z to z'"), end_btn]),
                       interp])


def latent_explorer(generator: nn.Module, inputs: torch.Tensor, interactive: bool | None = None,
                    num_samples: int = 8, steps: int = 8, seed: int = 0,
                    slider_range: float = 3.0) -> Any:
    """Explore the latent space of ``G(a, z)`` for the given inputs.

    Args:
        generator: ``G(a, z)`` (e.g. a trained BicycleGAN's ``run.G``).
        inputs: (N, C, H, W) or one (C, H, W) input.
        interactive: ``True`` for the ipywidgets explorer, ``False`` for the static figure;
            ``None`` picks the widgets when ipywidgets is installed.
        num_samples, steps, seed, slider_range: see :class:`LatentExplorer`.

    Returns:
        in a notebook, the tool shows itself once (a PNG snapshot saved with the notebook,
        then the live widget; or the static figure) and returns a ``Shown`` holding
        ``.widget`` / ``.figure``, which draws nothing more, so a trailing ``;`` changes
        nothing; elsewhere, the widget or the matplotlib figure.
    """
    explorer = LatentExplorer(generator, inputs, num_samples, steps, seed, slider_range)
    if interactive is None:
        interactive = widgets_available()
    if interactive and not widgets_available():
        raise ModuleNotFoundError("interactive=True needs ipywidgets (pip install ipywidgets); "
                                  "use interactive=False for a static figure")
    from course_lib.widgets.snapshot import present
    return present(explorer, interactive)     # in a notebook: shown once, with a saved snapshot
