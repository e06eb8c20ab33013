"""The authors' published models, running in the course's own networks.

pix2pix (Isola et al., CVPR 2017), pix2pixHD (Wang et al., CVPR 2018) and BicycleGAN (Zhu et
al., NeurIPS 2017) come with official PyTorch implementations (junyanz/pytorch-CycleGAN-and-
pix2pix, NVIDIA/pix2pixHD, junyanz/BicycleGAN) and trained models. The course's networks
compute exactly what those implementations compute at the same configuration (see the
docstrings of :mod:`course_lib.models`), but they name their layers their own way;
:func:`load_official` translates an official state dict into a course network:

    G = load_official("checkpoints/facades_label2photo/latest_net_G.pth", "pix2pix:G")

``arch`` names the repository and the network (``pix2pix:G``, ``pix2pix:D``, ``pix2pixhd:G``,
``pix2pixhd:D``, ``pix2pixhd:E``, ``bicyclegan:G``, ``bicyclegan:D``, ``bicyclegan:E``); the
options are the official ``define_G`` / ``define_D`` / ``define_E`` argument names with the
official command lines' defaults (:data:`DEFAULTS`), so ``--netG local --ngf 32`` becomes
``netG="local", ngf=32``.

The file is read with ``torch.load(weights_only=True)`` (no code runs). A ``module.`` prefix
(``DataParallel``) is stripped; the running statistics that PyTorch < 0.4 wrote for
``InstanceNorm2d`` layers (which use none) are dropped; a batch-norm ``num_batches_tracked``
that old files lack is taken from the course network (it only matters for momentum-free
batch norm). Every other key must be there with its shape, and nothing else: the first key or
shape that differs is named in the error. The network comes back in ``eval()`` mode.

:data:`PUBLISHED` lists the authors' published models (URL as their download scripts give it,
the options they were trained with, the direction of the task); :func:`download_model` fetches
one with the course's resumable downloader, :func:`load_published` loads it.
"""
from __future__ import annotations

import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn

__all__ = ["ARCHS", "DEFAULTS", "load_official", "build_official", "official_state_dict",
           "PublishedModel", "PUBLISHED", "list_models", "get_model", "model_path",
           "download_model", "load_published", "format_models"]

ARCHS: tuple[str, ...] = ("pix2pix:G", "pix2pix:D", "pix2pixhd:G", "pix2pixhd:D",
                          "pix2pixhd:E", "bicyclegan:G", "bicyclegan:D", "bicyclegan:E")

# The official command lines' defaults for the options each define_* function takes.
# pix2pix: train/test with --model pix2pix (unet_256, batch norm, dropout on, basic D on the
# 6-channel pair). pix2pixHD: options/base_options.py and train_options.py (Cityscapes labels:
# 35 classes + the instance-boundary channel = 36 for G, + 3 image channels = 39 for D;
# --num_D 2, --n_layers_D 3, GAN feature loss on, so getIntermFeat). E: the feature encoder
# (define_G(output_nc, feat_num, nef, 'encoder', n_downsample_E)). BicycleGAN:
# options/base_options.py (unet_256, z added to all levels, instance norm, ReLU, basic
# up-sampling, basic_256_multi D with 2 scales, resnet_256 E, nz 8, vaeLike for E).
DEFAULTS: dict[str, dict[str, Any]] = {
    "pix2pix:G": dict(input_nc=3, output_nc=3, ngf=64, netG="unet_256", norm="batch",
                      use_dropout=True),
    "pix2pix:D": dict(input_nc=6, ndf=64, netD="basic", n_layers_D=3, norm="batch"),
    "pix2pixhd:G": dict(input_nc=36, output_nc=3, ngf=64, netG="global",
                        n_downsample_global=4, n_blocks_global=9, n_local_enhancers=1,
                        n_blocks_local=3, norm="instance"),
    "pix2pixhd:D": dict(input_nc=39, ndf=64, n_layers_D=3, norm="instance", num_D=2,
                        getIntermFeat=True),
    "pix2pixhd:E": dict(input_nc=3, output_nc=3, ngf=16, n_downsample_global=4,
                        norm="instance"),
    "bicyclegan:G": dict(input_nc=3, output_nc=3, nz=8, ngf=64, netG="unet_256",
                         norm="instance", nl="relu", use_dropout=False, where_add="all",
                         upsample="basic"),
    "bicyclegan:D": dict(input_nc=3, ndf=64, netD="basic_256_multi", norm="instance",
                         num_Ds=2),
    "bicyclegan:E": dict(input_nc=3, output_nc=8, ndf=64, netE="resnet_256", norm="instance",
                         vaeLike=True),
}

_STALE_NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")
_Pairs = list[tuple[str, str]]        # (official module path, course module path)


# --------------------------------------------------------------------------- options


def _options(arch: str, options: Mapping[str, Any]) -> dict[str, Any]:
    if arch not in DEFAULTS:
        raise ValueError(f"arch={arch!r} is not known: use one of {', '.join(ARCHS)}")
    unknown = sorted(set(options) - set(DEFAULTS[arch]))
    if unknown:
        raise ValueError(f"{arch} does not take the option(s) {', '.join(unknown)}; its options "
                         f"(official names, official defaults) are {DEFAULTS[arch]}")
    opt = {**DEFAULTS[arch], **options}
    if opt.get("norm") not in ("batch", "instance"):
        raise ValueError(f"norm={opt.get('norm')!r}: the authors' networks use 'batch' or "
                         f"'instance' here")
    return opt


def _choice(name: str, value: Any, table: Mapping[str, Any]) -> Any:
    if value not in table:
        raise ValueError(f"{name}={value!r} is not built by the course: use one of "
                         f"{', '.join(map(repr, table))}")
    return table[value]


# --------------------------------------------------------------------------- module pairs


def _unet_pairs(num_downs: int, official: str, course: str, child: Callable[[int], str],
                seq: str) -> _Pairs:
    """pix2pix's ``UnetSkipConnectionBlock`` (and BicycleGAN's ``UnetBlock``): one Sequential
    per level, ``[conv, sub, relu, convT, tanh]`` (outermost), ``[lrelu, conv, norm, sub,
    relu, convT, norm, (dropout)]`` (middle), ``[lrelu, conv, relu, convT, norm]`` (innermost).
    ``child(depth)`` is the index of the sub-block in that Sequential."""
    pairs: _Pairs = []
    o, c = official, course
    for depth in range(num_downs):
        s = f"{o}.{seq}" if seq else o
        if depth == 0:
            pairs += [(f"{s}.0", f"{c}.down.0"), (f"{s}.3", f"{c}.up.1")]
        elif depth == num_downs - 1:
            pairs += [(f"{s}.1", f"{c}.down.1"), (f"{s}.3", f"{c}.up.1"), (f"{s}.4", f"{c}.up.2")]
        else:
            pairs += [(f"{s}.1", f"{c}.down.1"), (f"{s}.2", f"{c}.down.2"),
                      (f"{s}.5", f"{c}.up.1"), (f"{s}.6", f"{c}.up.2")]
        o, c = f"{s}.{child(depth)}", f"{c}.inner"
    return pairs


def _unet_z_pairs(num_downs: int) -> _Pairs:
    """BicycleGAN's ``UnetBlock_with_z``: ``down``, ``submodule``, ``up`` with the course's
    own indices (``down = [lrelu], conv, [norm]``, ``up = relu, convT, norm | tanh``)."""
    pairs: _Pairs = []
    o, c = "model", "unet"
    for depth in range(num_downs):
        if depth == 0:
            pairs += [(f"{o}.down.0", f"{c}.down.0"), (f"{o}.up.1", f"{c}.up.1")]
        elif depth == num_downs - 1:
            pairs += [(f"{o}.down.1", f"{c}.down.1"), (f"{o}.up.1", f"{c}.up.1"),
                      (f"{o}.up.2", f"{c}.up.2")]
        else:
            pairs += [(f"{o}.{p}", f"{c}.{p}") for p in ("down.1", "down.2", "up.1", "up.2")]
        o, c = f"{o}.submodule", f"{c}.inner"
    return pairs


def _nlayer_pairs(n_layers: int, official: str, course: str) -> _Pairs:
    """A flat PatchGAN Sequential ``[conv, lrelu, (conv, norm, lrelu) x n_layers, conv]`` onto
    the course's stages (``stages.s.0`` conv, ``stages.s.1`` norm)."""
    pairs = [(f"{official}.0", f"{course}.stages.0.0")]
    for s in range(1, n_layers + 1):
        k = 2 + 3 * (s - 1)
        pairs += [(f"{official}.{k}", f"{course}.stages.{s}.0"),
                  (f"{official}.{k + 1}", f"{course}.stages.{s}.1")]
    return pairs + [(f"{official}.{2 + 3 * n_layers}", f"{course}.stages.{n_layers + 1}.0")]


def _resnet_block_pairs(official: str, course: str) -> _Pairs:
    return [(f"{official}.conv_block.{k}", f"{course}.block.{k}") for k in (1, 2, 5, 6)]


def _global_pairs(nd: int, nb: int, official: str, course: str, head: bool) -> _Pairs:
    """pix2pixHD's ``GlobalGenerator.model``: pad, conv, norm, relu, (conv, norm, relu) x nd,
    nb residual blocks, (convT, norm, relu) x nd, pad, conv, tanh."""
    pairs = [(f"{official}.1", f"{course}.front.1"), (f"{official}.2", f"{course}.front.2")]
    for i in range(nd):
        pairs += [(f"{official}.{4 + 3 * i}", f"{course}.down.{3 * i}"),
                  (f"{official}.{5 + 3 * i}", f"{course}.down.{3 * i + 1}")]
    r0 = 4 + 3 * nd
    for b in range(nb):
        pairs += _resnet_block_pairs(f"{official}.{r0 + b}", f"{course}.blocks.{b}")
    u0 = r0 + nb
    for j in range(nd):
        pairs += [(f"{official}.{u0 + 3 * j}", f"{course}.up.{3 * j}"),
                  (f"{official}.{u0 + 3 * j + 1}", f"{course}.up.{3 * j + 1}")]
    if head:
        pairs.append((f"{official}.{u0 + 3 * nd + 1}", f"{course}.head.1"))
    return pairs


def build_official(arch: str, **options: Any) -> tuple[nn.Module, _Pairs]:
    """The course network for ``arch`` at the official ``options``, and the pairs
    ``(official module path, course module path)`` that translate one naming into the other."""
    from course_lib import models as M
    from course_lib.models.pix2pixhd import LocalEnhancer

    opt = _options(arch, options)
    norm = opt["norm"]
    net: nn.Module
    if arch == "pix2pix:G":
        num_downs = _choice("netG", opt["netG"], {"unet_128": 7, "unet_256": 8})
        net = M.UNetGenerator(opt["input_nc"], opt["output_nc"], num_downs, opt["ngf"], norm,
                              bool(opt["use_dropout"]), dropout_layout="official")
        return net, _unet_pairs(num_downs, "model", "model",
                                lambda d: "1" if d == 0 else "3", "model")
    if arch == "pix2pix:D":
        kind = _choice("netD", opt["netD"], {"basic": "n", "n_layers": "n", "pixel": "pixel"})
        if kind == "pixel":
            net = M.PixelDiscriminator(opt["input_nc"], opt["ndf"], norm)
            return net, [("net.0", "stages.0.0"), ("net.2", "stages.1.0"),
                         ("net.3", "stages.1.1"), ("net.5", "stages.2.0")]
        n = 3 if opt["netD"] == "basic" else opt["n_layers_D"]
        net = M.PatchDiscriminator(opt["input_nc"], opt["ndf"], n, norm)
        return net, [(o, c.lstrip(".")) for o, c in _nlayer_pairs(n, "model", "")]
    if arch == "pix2pixhd:G":
        kind = _choice("netG", opt["netG"], {"global": "global", "local": "local",
                                             "encoder": "encoder"})
        nd, nb = opt["n_downsample_global"], opt["n_blocks_global"]
        if kind == "encoder":
            raise ValueError("netG='encoder' is the feature encoder: load it with "
                             "arch='pix2pixhd:E'")
        if kind == "global":
            net = M.GlobalGenerator(opt["input_nc"], opt["output_nc"], opt["ngf"], nd, nb, norm)
            return net, [(o, c.lstrip(".")) for o, c in _global_pairs(nd, nb, "model", "",
                                                                      head=True)]
        n_le, nbl = opt["n_local_enhancers"], opt["n_blocks_local"]
        net = LocalEnhancer(opt["input_nc"], opt["output_nc"], opt["ngf"], nd, nb, n_le, nbl,
                            norm)
        pairs = _global_pairs(nd, nb, "model", "global_generator", head=False)
        for n in range(1, n_le + 1):
            e = f"enhancers.{n - 1}"
            pairs += [(f"model{n}_1.{k}", f"{e}.front.{k}") for k in (1, 2, 4, 5)]
            for b in range(nbl):
                pairs += _resnet_block_pairs(f"model{n}_2.{b}", f"{e}.back.{b}")
            pairs += [(f"model{n}_2.{nbl}", f"{e}.back.{nbl}"),
                      (f"model{n}_2.{nbl + 1}", f"{e}.back.{nbl + 1}")]
        pairs.append((f"model{n_le}_2.{nbl + 4}", "head.1"))
        return net, pairs
    if arch == "pix2pixhd:D":
        num_D, n = opt["num_D"], opt["n_layers_D"]
        net = M.MultiscaleDiscriminator(opt["input_nc"], opt["ndf"], n, num_D, norm)
        pairs = []
        for i in range(num_D):                   # official scale i sees num_D-1-i halvings
            c = f"discriminators.{num_D - 1 - i}"
            if opt["getIntermFeat"]:
                pairs.append((f"scale{i}_layer0.0", f"{c}.stages.0.0"))
                for s in range(1, n + 1):
                    pairs += [(f"scale{i}_layer{s}.0", f"{c}.stages.{s}.0"),
                              (f"scale{i}_layer{s}.1", f"{c}.stages.{s}.1")]
                pairs.append((f"scale{i}_layer{n + 1}.0", f"{c}.stages.{n + 1}.0"))
            else:
                pairs += _nlayer_pairs(n, f"layer{i}", c)
        return net, pairs
    if arch == "pix2pixhd:E":
        nd = opt["n_downsample_global"]
        net = M.InstanceEncoder(opt["input_nc"], opt["output_nc"], opt["ngf"], nd, norm)
        ks = [1, 2] + [k for i in range(nd) for k in (4 + 3 * i, 5 + 3 * i)]
        u0 = 4 + 3 * nd
        ks += [k for j in range(nd) for k in (u0 + 3 * j, u0 + 3 * j + 1)] + [u0 + 3 * nd + 1]
        return net, [(f"model.{k}", f"model.{k}") for k in ks]
    if arch == "bicyclegan:G":
        num_downs = _choice("netG", opt["netG"], {"unet_128": 7, "unet_256": 8})
        if opt["nz"] == 0:
            raise ValueError("nz=0 (a BicycleGAN G without latent code) is not built by the "
                             "course: LatentUNetGenerator needs nz >= 1")
        net = M.LatentUNetGenerator(opt["input_nc"], opt["output_nc"], opt["nz"], num_downs,
                                    opt["ngf"], norm, bool(opt["use_dropout"]),
                                    opt["where_add"], nl=opt["nl"], upsample=opt["upsample"])
        if opt["where_add"] == "all":
            return net, _unet_z_pairs(num_downs)
        return net, _unet_pairs(num_downs, "model", "unet",
                                lambda d: "1" if d == 0 else "3", "model")
    if arch == "bicyclegan:D":
        n = _choice("netD", opt["netD"], {"basic_256_multi": 3, "basic_128_multi": 2})
        num_D = opt["num_Ds"]
        net = M.BicycleDiscriminator(opt["input_nc"], opt["ndf"], n, num_D, norm)
        if num_D == 1:
            return net, _nlayer_pairs(n, "model", "scales.0")
        pairs = []
        for i in range(num_D):
            pairs += _nlayer_pairs(n, f"model_{i}", f"scales.{i}")
        return net, pairs
    # bicyclegan:E
    n_blocks = _choice("netE", opt["netE"], {"resnet_128": 4, "resnet_256": 5})
    net = M.LatentEncoder(opt["input_nc"], opt["output_nc"], opt["ndf"], n_blocks, norm,
                          vae_like=bool(opt["vaeLike"]))
    pairs = [("conv.0", "features.0")]
    for b in range(1, n_blocks):
        pairs += [(f"conv.{b}.conv.0", f"features.{b}.body.0"),
                  (f"conv.{b}.conv.2", f"features.{b}.body.2"),
                  (f"conv.{b}.conv.3", f"features.{b}.body.3"),
                  (f"conv.{b}.conv.5.0", f"features.{b}.body.5"),
                  (f"conv.{b}.shortcut.1", f"features.{b}.shortcut.1")]
    pairs.append(("fc.0", "fc_mu"))
    if opt["vaeLike"]:
        pairs.append(("fcVar.0", "fc_logvar"))
    return net, pairs


def _local_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """The module's own parameters and persistent buffers (not its children's)."""
    return {k: v for k, v in module.state_dict().items() if "." not in k}


def _expected(net: nn.Module, pairs: _Pairs) -> tuple[dict[str, str], set[str]]:
    """``{official key: course key}`` for every tensor, and the official module paths whose
    course module is an instance norm (whose stale statistics may be dropped)."""
    keys: dict[str, str] = {}
    instance: set[str] = set()
    for off, cour in pairs:
        module = net.get_submodule(cour)
        if isinstance(module, nn.InstanceNorm2d):
            instance.add(off)
        for name in _local_state(module):
            keys[f"{off}.{name}"] = f"{cour}.{name}"
    return keys, instance


# --------------------------------------------------------------------------- reading


def _read(source: str | os.PathLike | Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    if isinstance(source, Mapping):
        bad = next((k for k, v in source.items() if not isinstance(v, torch.Tensor)), None)
        if bad is not None:
            raise ValueError(f"the given state dict maps {bad!r} to a "
                             f"{type(source[bad]).__name__}, not a tensor")
        return dict(source), "the given state dict"
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist: give the path of an official "
                                f"checkpoint such as latest_net_G.pth (python -m course_lib "
                                f"pretrained download NAME fetches the published ones)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        raise ValueError(f"{path} is not a plain state dict of tensors: torch.load("
                         f"weights_only=True) refused it ({str(err).splitlines()[0]}). Official "
                         f"checkpoints are state dicts; re-save the weights with "
                         f"torch.save(net.state_dict(), path)") from err
    except (EOFError, RuntimeError, zipfile.BadZipFile, OSError, ValueError) as err:
        raise ValueError(f"{path} could not be read as a PyTorch checkpoint ({_size_of(path)}; "
                         f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                         f"): it is truncated or corrupt. Download it again") from err
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor)
                                                 for v in state.values()):
        raise ValueError(f"{path} holds a {type(state).__name__}, not a state dict (a mapping "
                         f"of names to tensors) as the official code saves")
    return dict(state), str(path)


def _size_of(path: Path) -> str:
    return f"{path.stat().st_size} bytes"


def official_state_dict(state: Mapping[str, Any], arch: str, **options: Any
                        ) -> tuple[nn.Module, dict[str, torch.Tensor]]:
    """Translate an official state dict: ``(course network, course state dict)``.

    Raises a ``ValueError`` naming the first key or shape that does not fit ``options``.
    """
    net, pairs = build_official(arch, **options)
    expected, instance = _expected(net, pairs)
    given = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    if arch == "bicyclegan:D":                  # older BicycleGAN code named scales model0, ...
        given = {re.sub(r"^model(\d+)\.", r"model_\1.", k): v for k, v in given.items()}
    hint = f"(options {_options(arch, options)}; pass the official options the model was " \
           f"trained with, e.g. ngf, netG, num_D)"
    own = net.state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, value in given.items():
        if key not in expected:
            module, _, leaf = key.rpartition(".")
            if module in instance and leaf in _STALE_NORM_STATS:
                continue                       # InstanceNorm statistics of PyTorch < 0.4
            raise ValueError(f"{arch}: the checkpoint has the key {key!r} {tuple(value.shape)}, "
                             f"which the official network at these options does not have; it "
                             f"is another architecture or other options {hint}")
    for key, course_key in expected.items():
        if key not in given:
            if key.endswith("num_batches_tracked"):
                out[course_key] = own[course_key]     # old files lack it
                continue
            raise ValueError(f"{arch}: the checkpoint lacks the key {key!r} (expected shape "
                             f"{tuple(own[course_key].shape)}) {hint}")
        value = given[key]
        if tuple(value.shape) != tuple(own[course_key].shape):
            raise ValueError(f"{arch}: {key!r} has shape {tuple(value.shape)} in the checkpoint "
                             f"but {tuple(own[course_key].shape)} in the official network at "
                             f"these options {hint}")
        out[course_key] = value.to(own[course_key].dtype)
    return net, out


def load_official(source: str | os.PathLike | Mapping[str, Any], arch: str,
                  **options: Any) -> nn.Module:
    """Load an official checkpoint into the course's network for ``arch``; eval mode.

    Args:
        source: the path of an official ``.pth`` file (``latest_net_G.pth``, ...) or a state
            dict.
        arch: one of :data:`ARCHS`.
        **options: the official ``define_*`` argument names (:data:`DEFAULTS` lists them with
            the official defaults).

    Every tensor of the course network is loaded (``strict``), except, for a pix2pixHD local
    enhancer, the global generator's own RGB head, which the official network does not have
    (the enhanced forward pass does not use it). See the module docstring for what is
    tolerated (``module.`` prefixes, stale instance-norm statistics).
    """
    if arch not in ARCHS:
        raise ValueError(f"arch={arch!r} is not known: use one of {', '.join(ARCHS)}")
    state, _ = _read(source)
    net, converted = official_state_dict(state, arch, **options)
    own = net.state_dict()
    unused = [k for k in own if k not in converted]
    if arch == "pix2pixhd:G" and all(k.startswith("global_generator.head.") for k in unused):
        converted.update({k: own[k] for k in unused})
    net.load_state_dict(converted, strict=True)
    return net.eval()


# --------------------------------------------------------------------------- published models

PIX2PIX_MODELS = "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch"
BICYCLEGAN_MODELS = "http://efrosgans.eecs.berkeley.edu/BicycleGAN//models"


@dataclass(frozen=True)
class PublishedModel:
    """One model the authors published.

    Attributes:
        name: registry key, ``repo/task`` (``pix2pix/facades_label2photo``).
        arch: the :func:`load_official` arch of its main network.
        url: the address the authors' download script (or README) gives.
        options: the official options it was trained with (beyond :data:`DEFAULTS`).
        dataset: the course's dataset name (:mod:`course_lib.data.download`) it was trained on.
        direction: ``"AtoB"`` or ``"BtoA"`` on that dataset's AB images.
        size: the side (or ``(height, width)``) its test script feeds it.
        files: extra files fetched alongside (BicycleGAN's encoder).
        note: what a user must know.
    """

    name: str
    arch: str
    url: str
    options: dict[str, Any] = field(default_factory=dict)
    dataset: str = ""
    direction: str = "AtoB"
    size: int | tuple[int, int] = 256
    files: dict[str, str] = field(default_factory=dict)
    note: str = ""


def _p2p(task: str, dataset: str, direction: str, note: str = "") -> PublishedModel:
    # scripts/download_pix2pix_model.sh: URL=.../models-pytorch/$FILE.pth -> latest_net_G.pth
    return PublishedModel(f"pix2pix/{task}", "pix2pix:G", f"{PIX2PIX_MODELS}/{task}.pth",
                          dataset=dataset, direction=direction, note=note)


def _bicycle(task: str, dataset: str, direction: str, input_nc: int = 3,
             size: int | tuple[int, int] = 256, file: str | None = None) -> PublishedModel:
    # pretrained_models/download_model.sh: .../models/${FILE}_net_G.pth and _net_E.pth
    file = file or task
    return PublishedModel(f"bicyclegan/{task}", "bicyclegan:G",
                          f"{BICYCLEGAN_MODELS}/{file}_net_G.pth",
                          options=dict(input_nc=input_nc), dataset=dataset, direction=direction,
                          size=size, files={"E": f"{BICYCLEGAN_MODELS}/{file}_net_E.pth"})


PUBLISHED: dict[str, PublishedModel] = {m.name: m for m in (
    _p2p("facades_label2photo", "facades", "BtoA"),
    _p2p("sat2map", "maps", "AtoB"),
    _p2p("map2sat", "maps", "BtoA"),
    _p2p("edges2shoes", "edges2shoes", "AtoB"),
    _p2p("edges2handbags", "edges2handbags", "AtoB",
         note="not in the download script's list of names; the same address pattern"),
    _p2p("day2night", "night2day", "BtoA"),
    PublishedModel(
        "pix2pixhd/label2city_1024p", "pix2pixhd:G",
        "https://drive.google.com/file/d/1h9SykUnuZul7J3Nbms2QGH1wa85nbN2-/view?usp=sharing",
        options=dict(netG="local", ngf=32), dataset="cityscapes", direction="AtoB",
        size=(1024, 2048),
        note=("a Google Drive link (the README's): download it in a browser and save "
              "latest_net_G.pth at the path `pretrained list` shows. Input: 35 one-hot "
              "Cityscapes label channels + the instance boundary map")),
    _bicycle("edges2shoes", "edges2shoes", "AtoB", input_nc=1),
    _bicycle("edges2handbags", "edges2handbags", "AtoB", input_nc=1),
    _bicycle("night2day", "night2day", "AtoB"),
    _bicycle("facades", "facades", "BtoA"),
    _bicycle("maps", "maps", "BtoA", size=512),
)}


def list_models() -> list[str]:
    """The names of :data:`PUBLISHED`."""
    return list(PUBLISHED)


def get_model(name: str) -> PublishedModel:
    """The registry entry; a short name (``facades_label2photo``) works when unambiguous."""
    if name in PUBLISHED:
        return PUBLISHED[name]
    hits = [m for m in PUBLISHED.values() if m.name.split("/", 1)[1] == name]
    if len(hits) == 1:
        return hits[0]
    if hits:
        raise KeyError(f"{name!r} is published by several repositories: use one of "
                       f"{', '.join(m.name for m in hits)}")
    raise KeyError(f"no published model {name!r}; known: {', '.join(PUBLISHED)}")


def model_path(name: str, root: str | os.PathLike = "data/pretrained", part: str = "G") -> Path:
    """Where :func:`download_model` puts a model's file: ``root/repo/task/latest_net_G.pth``."""
    info = get_model(name)
    return Path(root) / info.name / f"latest_net_{part}.pth"


def download_model(name: str, root: str | os.PathLike = "data/pretrained",
                   progress: bool = True, timeout: float = 60.0) -> Path:
    """Fetch a published model (and its extra files) with the course's resumable downloader.

    Returns the path of its main network. An existing complete file is kept (never
    overwritten); an interrupted download resumes from its ``.part`` file.
    """
    from course_lib.data.download import DatasetInfo, DownloadError, _fetch

    info = get_model(name)
    if info.url.startswith("https://drive.google.com"):
        raise DownloadError(f"{info.name} is published as a Google Drive link, which the "
                            f"course cannot fetch: open {info.url} in a browser and save the "
                            f"checkpoint as {model_path(name, root)}")
    for part, url in {"G": info.url, **info.files}.items():
        target = model_path(name, root, part)
        if target.is_file():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        meta = DatasetInfo(name=f"{info.name} ({part})", url=url, size_mb=0, splits=(),
                           left="", right="", direction=info.direction, task=info.name)
        try:
            _fetch(url, partial, meta, progress=progress, timeout=timeout)
        except DownloadError as err:
            raise DownloadError(f"could not download {info.name} from {url}: "
                                f"{str(err).split('. ')[0]}. Rerun the same command to resume "
                                f"(bytes so far are kept in {partial}); without internet, fetch "
                                f"{url} elsewhere and save it as {target}") from err
        os.replace(partial, target)
    return model_path(name, root)


def load_published(name: str, root: str | os.PathLike = "data/pretrained",
                   part: str = "G") -> nn.Module:
    """Load a downloaded published model into the course's network (eval mode)."""
    info = get_model(name)
    path = model_path(name, root, part)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not there: run `python -m course_lib pretrained "
                                f"download {info.name}` first")
    if part == "E":
        return load_official(path, "bicyclegan:E")
    return load_official(path, info.arch, **info.options)


def format_models(root: str | os.PathLike = "data/pretrained") -> str:
    """A plain-text table of :data:`PUBLISHED`: name, network, dataset, direction, on disk."""
    rows = [("name", "network", "dataset", "direction", "on disk")]
    for m in PUBLISHED.values():
        rows.append((m.name, m.arch, m.dataset, m.direction,
                     "yes" if model_path(m.name, root).is_file() else "no"))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)


def sample_official(name: str, inputs: str | os.PathLike, output: str | os.PathLike, *,
                    root: str | os.PathLike = "data/pretrained", num: int = 1, seed: int = 0,
                    device: str | None = None, overwrite: bool = False) -> list[Path]:
    """Run a downloaded published model on every image under ``inputs``; PNGs under ``output``.

    Each input is resized to the size the authors' test script uses (256, or 512 for
    BicycleGAN's maps). pix2pix runs as the official ``test.py`` does by default: dropout on
    and batch norm with the statistics of the image (the paper's test-time mode, Sec. 3.3),
    one image per batch. BicycleGAN draws ``z ~ N(0, I)`` per output (``num`` per input); for
    a one-channel model the input is turned to gray as its data loader does.

    The same rules as :func:`course_lib.runner.sample` keep your files safe: ``output`` may not
    be ``inputs`` or lie inside it, outputs are named so that ``x.jpg`` and ``x.png`` cannot
    collide, existing outputs are refused before anything is written unless ``overwrite``, and
    an unreadable image is named in a :class:`~course_lib.runner.SampleFailures` at the end
    while the others are written.
    """
    from course_lib.data.jitter import resize
    from course_lib.data.paired import PairedDataError, PairedImageDataset, open_image
    from course_lib.models.unet import at_test_time
    from course_lib.runner import SampleFailures, plan_outputs, save_image, skipped

    info = get_model(name)
    if info.arch == "pix2pixhd:G":
        raise ValueError(f"{info.name} reads one-hot Cityscapes label maps with instance "
                         f"boundaries, not images: load it in Python with load_published"
                         f"({info.name!r}) and feed course_lib.models.instance.generator_input")
    if num < 1:
        raise ValueError(f"--num must be positive, got {num}")
    src, out_dir = Path(inputs), Path(output)
    files, names = plan_outputs(src, out_dir, num, overwrite)
    dev = device or ("cuda" if torch.cuda.is_available() else "cpu")
    G = load_published(info.name, root).to(dev)
    size = info.size if isinstance(info.size, tuple) else (info.size, info.size)
    in_nc = {**DEFAULTS[info.arch], **info.options}["input_nc"]
    written: list[Path] = []
    failures: list[tuple[Path, str]] = []
    gen = torch.Generator().manual_seed(seed)
    for path, draws in zip(files, names):
        try:
            x = PairedImageDataset._image_tensor(open_image(path, at_least=size[::-1]))
        except (PairedDataError, ValueError, OSError) as err:
            failures.append(skipped(path, err))
            continue
        x = resize(x, size)                                          # (3, h, w) in [-1, 1]
        if in_nc == 1:                                               # ITU-R 601 luma
            x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]
        x = x[None].to(dev)
        for k, target in enumerate(draws):
            with torch.no_grad():
                if info.arch == "pix2pix:G":
                    torch.manual_seed(seed + k)
                    with at_test_time(G, "paper"):
                        y = G(x)[0]
                else:
                    z = torch.randn(1, G.nz, generator=gen).to(dev)
                    y = G(x, z)[0]
            written.append(save_image(y, target))
    if failures:
        raise SampleFailures(written, failures, len(files), out_dir)
    return written
