"""The losses of pix2pix: the conditional GAN loss in three forms, and L1.

Isola et al., CVPR 2017, Sec. 3.1:

    L_cGAN(G, D) = E_{x,y}[log D(x, y)] + E_{x,z}[log(1 - D(x, G(x, z)))]        (Eq. 1)
    L_L1(G)      = E_{x,y,z}[ ||y - G(x, z)||_1 ]                                (Eq. 3)
    G*           = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G)                 (Eq. 4)

D outputs logits (no sigmoid), one per patch; every loss averages over the whole map.
:class:`GANLoss` has three forms:

* ``"vanilla"`` -- Eq. 1 as binary cross-entropy on logits. D: ``-log s(x)`` on real pairs,
  ``-log(1 - s(x))`` on fake ones (s = sigmoid). G: the non-saturating form of Goodfellow et
  al. (2014) that the paper trains with (Sec. 3.3): maximise ``log D(x, G(x))``, i.e. minimise
  ``-log s(x)`` on fakes, which has strong gradients when D rejects them.
* ``"lsgan"`` -- least squares (Mao et al. 2017): ``(x - 1)^2`` for real targets, ``x^2`` for
  fake ones, for D and G alike (pix2pixHD and BicycleGAN use it).
* ``"hinge"`` -- (Lim & Ye 2017; Miyato et al. 2018): D minimises ``relu(1 - x)`` on real and
  ``relu(1 + x)`` on fake; G minimises ``-x``.

BicycleGAN's KL divergence and latent regression L1 are at the end of the module, followed
by pix2pixHD's discriminator feature matching (Eq. 4) and optional VGG perceptual loss.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GANMode", "GAN_MODES", "GANLoss", "l1_loss"]
__all__ += ["kl_divergence", "latent_l1_loss"]
__all__ += ["feature_matching_loss", "VGGPerceptualLoss", "PerceptualLossUnavailable",
            "vgg19_features", "load_vgg19_features", "vgg_perceptual_loss"]

GANMode = Literal["vanilla", "lsgan", "hinge"]
GAN_MODES: tuple[str, ...] = ("vanilla", "lsgan", "hinge")


class GANLoss(nn.Module):
    """The adversarial loss of D or G on a map of D's logits.

    Args:
        mode: ``"vanilla"`` (the paper), ``"lsgan"`` or ``"hinge"``.
        real_label, fake_label: targets of the vanilla and LSGAN forms (1 and 0; a smaller
            ``real_label`` gives one-sided label smoothing). Ignored by the hinge form.

    Call as ``loss(prediction, target_is_real, for_discriminator=True)``:

    * D step: ``loss(D(x, y), True) + loss(D(x, G(x).detach()), False)``;
    * G step: ``loss(D(x, G(x)), True, for_discriminator=False)``.

    Returns the mean over every element of ``prediction`` (a scalar tensor).
    """

    def __init__(self, mode: str = "vanilla", real_label: float = 1.0,
                 fake_label: float = 0.0) -> None:
        super().__init__()
        if mode not in GAN_MODES:
            raise ValueError(f"GANLoss mode={mode!r} is not known: use one of "
                             f"{', '.join(map(repr, GAN_MODES))}")
        self.mode = mode
        self.real_label, self.fake_label = float(real_label), float(fake_label)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"

    def forward(self, prediction: torch.Tensor, target_is_real: bool,
                for_discriminator: bool = True) -> torch.Tensor:
        if not isinstance(prediction, torch.Tensor):
            raise TypeError(f"GANLoss takes D's output as one tensor of logits, got "
                            f"{type(prediction).__name__}; for a multi-scale discriminator, "
                            f"apply it to each scale's output and add the results")
        if not isinstance(target_is_real, bool):
            raise TypeError(f"target_is_real must be True or False, got {target_is_real!r}")
        x = prediction.float()
        if self.mode == "hinge":
            if for_discriminator:
                return F.relu(1 - x).mean() if target_is_real else F.relu(1 + x).mean()
            if not target_is_real:
                raise ValueError("the hinge loss of the generator is -mean(D(fake)): call it with "
                                 "target_is_real=True, for_discriminator=False")
            return -x.mean()
        target = torch.full_like(x, self.real_label if target_is_real else self.fake_label)
        if self.mode == "vanilla":
            return F.binary_cross_entropy_with_logits(x, target)
        return F.mse_loss(x, target)


def l1_loss(fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference ``mean |real - fake|`` over all elements (Eq. 3).

    Both tensors must have the same shape (no broadcasting: a mismatch is a bug upstream).
    """
    if fake.shape != real.shape:
        raise ValueError(f"l1_loss got tensors of different shapes: fake {tuple(fake.shape)} "
                         f"and real {tuple(real.shape)}")
    return F.l1_loss(fake, real)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, I)) per sample, averaged over the batch.

    BicycleGAN's cVAE-GAN (Zhu et al., NeurIPS 2017, Sec. 3.2, Eq. 4) keeps the encoder's
    q(z | B) close to the prior N(0, I) so that random codes can be drawn at test time. For a
    diagonal Gaussian the divergence has the closed form (Kingma & Welling 2014, Appendix B)::

        KL = 0.5 * sum_j (mu_j^2 + exp(logvar_j) - 1 - logvar_j)

    summed over the ``nz`` latent dimensions and averaged over the N samples (the official
    code sums over its batch, which holds one image per branch; the mean keeps the weight
    ``lambda_KL = 0.01`` meaning the same at any batch size).

    Args:
        mu, logvar: (N, nz) outputs of the encoder.
    """
    if mu.shape != logvar.shape or mu.dim() != 2:
        raise ValueError(f"kl_divergence takes mu and logvar of the same shape (N, nz), got "
                         f"{tuple(mu.shape)} and {tuple(logvar.shape)}")
    per_dim = mu.float().square() + logvar.float().exp() - 1.0 - logvar.float()
    return 0.5 * per_dim.sum(dim=1).mean()


def latent_l1_loss(z_predicted: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """BicycleGAN's latent regression loss ``mean |z - E(G(A, z))|`` (Zhu et al. Eq. 6).

    ``z_predicted`` is the encoder's mean on the generated image (a point estimate, Sec. 3.3),
    ``z`` the code drawn from the prior. Averaged over the batch and the ``nz`` dimensions.
    Who is updated by this term is the caller's business: in the hybrid model only G is
    (see :mod:`course_lib.train.bicyclegan`).
    """
    if z_predicted.shape != z.shape:
        raise ValueError(f"latent_l1_loss got codes of different shapes: predicted "
                         f"{tuple(z_predicted.shape)} and drawn {tuple(z.shape)}")
    return F.l1_loss(z_predicted, z)


# --------------------------------------------------------------------------- pix2pixHD


def feature_matching_loss(fake_features: Sequence[Any], real_features: Sequence[Any],
                          layer_weight: float | None = None,
                          scale_weight: float | None = None) -> torch.Tensor:
    """pix2pixHD's discriminator feature-matching loss (Wang et al., CVPR 2018, Eq. 4).

    ``L_FM(G, D_k) = E sum_{i=1..T} 1/N_i || D_k^(i)(s, x) - D_k^(i)(s, G(s)) ||_1``: the
    L1 distance between D's features of the real and of the generated pair, averaged over the
    ``N_i`` elements of each layer ``i`` and summed over the layers, for every scale ``k``.
    With the official implementation's normalisation (``models/pix2pixHD_model.py``), each
    layer's term is weighted by ``4 / T`` and each scale's by ``1 / num_D``; the trainer
    multiplies the result by ``lambda_feat = 10`` (Eq. 5).

    Args:
        fake_features: what ``D(pair, return_features=True)`` returned for the fake pair:
            a list of stage outputs for one D, or a list of such lists for a multi-scale D.
            The **last** entry of each list is D's map of logits and is *not* matched; the
            ``T`` entries before it are (T = n_layers + 1 for a PatchGAN).
        real_features: the same for the real pair; detached here (the target).
        layer_weight: weight of each layer's term; default ``4 / T``. Pass 1.0 for Eq. 4 as
            printed.
        scale_weight: weight of each scale; default ``1 / num_D``.

    Returns:
        a scalar tensor that carries gradients to the fake features only.
    """
    fake, real = _scales(fake_features, "fake_features"), _scales(real_features, "real_features")
    if len(fake) != len(real):
        raise ValueError(f"fake_features has {len(fake)} scales but real_features {len(real)}")
    sw = 1.0 / len(fake) if scale_weight is None else float(scale_weight)
    total = torch.zeros((), device=fake[0][0].device)
    for k, (fs, rs) in enumerate(zip(fake, real)):
        if len(fs) != len(rs) or len(fs) < 2:
            raise ValueError(f"scale {k}: fake has {len(fs)} feature maps and real {len(rs)}; "
                             f"both need the same number, at least one layer plus the logits")
        lw = 4.0 / (len(fs) - 1) if layer_weight is None else float(layer_weight)
        for i, (f, r) in enumerate(zip(fs[:-1], rs[:-1])):
            if f.shape != r.shape:
                raise ValueError(f"scale {k}, layer {i}: fake {tuple(f.shape)} and real "
                                 f"{tuple(r.shape)} features differ in shape")
            total = total + sw * lw * F.l1_loss(f.float(), r.detach().float())
    return total


def _scales(features: Sequence[Any], name: str) -> list[Sequence[torch.Tensor]]:
    """A single D's list of tensors -> [that list]; a multi-scale list of lists unchanged."""
    if not isinstance(features, (list, tuple)) or not features:
        raise TypeError(f"{name} must be the non-empty list that D(..., return_features=True) "
                        f"returns, got {type(features).__name__}")
    if all(isinstance(f, torch.Tensor) for f in features):
        return [features]
    if all(isinstance(s, (list, tuple)) and all(isinstance(f, torch.Tensor) for f in s)
           for s in features):
        return list(features)
    raise TypeError(f"{name} must be a list of tensors (one D) or a list of lists of tensors "
                    f"(one per scale)")


# ImageNet statistics that torchvision's VGG weights expect (inputs in [0, 1]).
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
VGG19_FILE = "vgg19-dcbb9e9d.pth"          # torchvision's VGG19_Weights.IMAGENET1K_V1
# torchvision's vgg19 "features": conv widths, "M" a 2x2 max pool.
_VGG19_LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
                 512, 512, 512, 512, "M")
# Ends (exclusive) of the five slices of the official VGGLoss: relu1_1, relu2_1, relu3_1,
# relu4_1, relu5_1 of torchvision's vgg19().features, and their weights.
_VGG_SLICES = (2, 7, 12, 21, 30)
_VGG_WEIGHTS = (1.0 / 32, 1.0 / 16, 1.0 / 8, 1.0 / 4, 1.0)


class PerceptualLossUnavailable(RuntimeError):
    """The VGG perceptual loss cannot run here: its ImageNet weights are not available."""


def vgg19_features() -> nn.Sequential:
    """An untrained VGG19 feature extractor up to relu5_1, laid out as torchvision's
    ``vgg19().features[:30]`` (same indices, so its state dict loads)."""
    layers: list[nn.Module] = []
    cin = 3
    for v in _VGG19_LAYOUT:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            cin = int(v)
    return nn.Sequential(*layers[:_VGG_SLICES[-1]])


def vgg19_weights_path() -> Path:
    """Where torchvision caches the ImageNet VGG19 weights (``$TORCH_HOME/hub/checkpoints``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE


def load_vgg19_features(weights_path: str | Path | None = None) -> nn.Sequential:
    """VGG19 features with ImageNet weights from ``weights_path`` or torchvision's cache.

    Never downloads. Raises :class:`PerceptualLossUnavailable`, saying what is missing and how
    to provide it, when no weight file can be read.
    """
    path = Path(weights_path).expanduser() if weights_path is not None else vgg19_weights_path()
    where = "the path you gave" if weights_path is not None else "torchvision's cache"
    if not path.is_file():
        raise PerceptualLossUnavailable(
            f"the VGG perceptual loss is OFF: it needs ImageNet-trained VGG19 weights and there "
            f"is no file at {path} ({where}); this course never downloads them. To turn it on, "
            f"fetch https://download.pytorch.org/models/{VGG19_FILE} on a machine with internet "
            f"and put it there or pass weights_path=... . pix2pixHD trains without it too "
            f"(the paper reports it as a small improvement, Sec. 4); the rest of the objective "
            f"is unchanged.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        state = {k[len("features."):]: v for k, v in state.items() if k.startswith("features.")}
        net = vgg19_features()
        wanted = set(net.state_dict())
        net.load_state_dict({k: v for k, v in state.items() if k in wanted})
    except Exception as err:
        raise PerceptualLossUnavailable(
            f"the VGG perceptual loss is OFF: {path} is not a readable torchvision VGG19 "
            f"state dict ({type(err).__name__}: {err})") from err
    return net


class VGGPerceptualLoss(nn.Module):
    """pix2pixHD's optional VGG feature-matching loss (Sec. 3.2, after Eq. 5).

    ``sum_i w_i mean |VGG_i(fake) - VGG_i(real)|`` over relu1_1 ... relu5_1 of VGG19 with the
    official weights 1/32, 1/16, 1/8, 1/4, 1; the trainer multiplies by ``lambda = 10``.
    Images in [-1, 1] are mapped to [0, 1] and normalised with ImageNet statistics, as
    torchvision's weights expect (the official code feeds [-1, 1] unnormalised). The VGG is
    frozen.

    Args:
        features: the VGG19 feature extractor (:func:`load_vgg19_features` for ImageNet
            weights; ``vgg19_features()`` gives random weights, for tests only).
    """

    def __init__(self, features: nn.Sequential) -> None:
        super().__init__()
        ends = _VGG_SLICES
        self.slices = nn.ModuleList([features[a:b] for a, b in zip((0,) + ends[:-1], ends)])
        self.weights = _VGG_WEIGHTS
        self.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)

    def _features(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = ((x.float() + 1) / 2 - self.mean) / self.std
        out = []
        for s in self.slices:
            x = s(x)
            out.append(x)
        return out

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if fake.shape != real.shape or fake.dim() != 4 or fake.shape[1] != 3:
            raise ValueError(f"VGGPerceptualLoss takes two (N, 3, H, W) images of one shape, got "
                             f"{tuple(fake.shape)} and {tuple(real.shape)}")
        total = torch.zeros((), device=fake.device)
        for w, f, r in zip(self.weights, self._features(fake), self._features(real)):
            total = total + w * F.l1_loss(f, r.detach())
        return total


def vgg_perceptual_loss(weights_path: str | Path | None = None, verbose: bool = True
                        ) -> tuple[VGGPerceptualLoss | None, str]:
    """``(loss, message)``: the loss with ImageNet weights when they can be loaded, else
    ``(None, why it is off)``; prints the message when ``verbose``."""
    try:
        loss = VGGPerceptualLoss(load_vgg19_features(weights_path))
        message = "VGG perceptual loss is ON (ImageNet VGG19 weights loaded)"
    except PerceptualLossUnavailable as err:
        loss, message = None, str(err)
    if verbose:
        print(message)
    return loss, message
