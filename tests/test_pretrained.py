"""Official checkpoints into the course's networks (course_lib.pretrained).

The references below are small re-statements of the official networks' layer order and
module names (pytorch-CycleGAN-and-pix2pix, NVIDIA/pix2pixHD, BicycleGAN ``models/
networks.py``): their ``state_dict()`` has the official key layout, their forward pass the
official computation (in-place activations included). Each test loads the reference's random
weights through :func:`load_official` and compares the outputs.
"""
from __future__ import annotations

import math
import pickle

import pytest
import torch
from torch import nn

from course_lib.pretrained import (ARCHS, DEFAULTS, PUBLISHED, get_model, load_official,
                                   model_path)

TOL = 1e-5


class OldInstanceNorm(nn.InstanceNorm2d):
    """InstanceNorm2d as PyTorch < 0.4 had it: running statistics in the state dict (which
    old checkpoints carry), never used: every forward normalizes with the input's own."""

    def __init__(self, c: int) -> None:
        super().__init__(c, affine=False, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.instance_norm(x, use_input_stats=True, eps=self.eps)


def _norm(kind: str, c: int) -> nn.Module:
    return nn.BatchNorm2d(c) if kind == "batch" else OldInstanceNorm(c)


def _randomize(net: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("num_batches_tracked"):
                continue
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif t.dim() <= 1:
                t.copy_(torch.randn(t.shape, generator=g) * 0.1 + (1.0 if name.endswith(
                    "weight") else 0.0))
            else:
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) / math.sqrt(fan_in))
    return net


# --------------------------------------------------------------------------- pix2pix


class RefUnetBlock(nn.Module):
    """pix2pix's UnetSkipConnectionBlock (bias_conv=False before batch norm) and BicycleGAN's
    UnetBlock (every conv biased, output [model(x), x])."""

    def __init__(self, outer: int, inner: int, input_nc: int | None = None,
                 sub: nn.Module | None = None, outermost: bool = False, innermost: bool = False,
                 norm: str = "batch", dropout: bool = False, bicycle: bool = False) -> None:
        super().__init__()
        self.outermost, self.bicycle = outermost, bicycle
        bias = True if bicycle else norm != "batch"
        input_nc = outer if input_nc is None else input_nc
        downconv = nn.Conv2d(input_nc, inner, 4, 2, 1, bias=bias)
        if outermost:
            layers = [downconv, sub, nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1),
                      nn.Tanh()]
        elif innermost:
            layers = [nn.LeakyReLU(0.2, True), downconv, nn.ReLU(True),
                      nn.ConvTranspose2d(inner, outer, 4, 2, 1, bias=bias), _norm(norm, outer)]
        else:
            layers = [nn.LeakyReLU(0.2, True), downconv, _norm(norm, inner), sub, nn.ReLU(True),
                      nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1, bias=bias), _norm(norm, outer)]
            if dropout:
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.outermost:
            return self.model(x)
        if self.bicycle:
            return torch.cat([self.model(x), x], 1)
        return torch.cat([x, self.model(x)], 1)


def ref_unet(input_nc: int, output_nc: int, num_downs: int, ngf: int, norm: str = "batch",
             dropout: bool = False, bicycle: bool = False) -> nn.Module:
    kw = dict(norm=norm, bicycle=bicycle)
    b = RefUnetBlock(ngf * 8, ngf * 8, innermost=True, **kw)
    for _ in range(num_downs - 5):
        b = RefUnetBlock(ngf * 8, ngf * 8, sub=b, dropout=dropout, **kw)
    b = RefUnetBlock(ngf * 4, ngf * 8, sub=b, **kw)
    b = RefUnetBlock(ngf * 2, ngf * 4, sub=b, **kw)
    b = RefUnetBlock(ngf, ngf * 2, sub=b, **kw)
    return RefUnet(RefUnetBlock(output_nc, ngf, input_nc=input_nc, sub=b, outermost=True, **kw))


class RefUnet(nn.Module):
    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.model = block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def ref_nlayer(input_nc: int, ndf: int, n_layers: int, norm: str, padding: int = 1,
               all_bias: bool = False, hd_widths: bool = False) -> list[list[nn.Module]]:
    """The PatchGAN as a list of stages (the official flat Sequential is their concatenation)."""
    bias = True if all_bias else norm != "batch"
    stages = [[nn.Conv2d(input_nc, ndf, 4, 2, padding), nn.LeakyReLU(0.2, True)]]
    nf = [min(ndf * 2 ** i, 512) if hd_widths else ndf * min(2 ** i, 8)
          for i in range(n_layers + 1)]
    for n in range(1, n_layers + 1):
        stride = 2 if n < n_layers else 1
        stages.append([nn.Conv2d(nf[n - 1], nf[n], 4, stride, padding, bias=bias),
                       _norm(norm, nf[n]), nn.LeakyReLU(0.2, True)])
    stages.append([nn.Conv2d(nf[n_layers], 1, 4, 1, padding)])
    return stages


def _flat(stages: list[list[nn.Module]]) -> nn.Sequential:
    return nn.Sequential(*[m for s in stages for m in s])


class RefPatch(nn.Module):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__()
        self.model = _flat(ref_nlayer(*args, **kwargs))  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class RefPixel(nn.Module):
    def __init__(self, input_nc: int, ndf: int, norm: str = "batch") -> None:
        super().__init__()
        bias = norm != "batch"
        self.net = nn.Sequential(nn.Conv2d(input_nc, ndf, 1), nn.LeakyReLU(0.2, True),
                                 nn.Conv2d(ndf, ndf * 2, 1, bias=bias), _norm(norm, ndf * 2),
                                 nn.LeakyReLU(0.2, True), nn.Conv2d(ndf * 2, 1, 1, bias=bias))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


# --------------------------------------------------------------------------- pix2pixHD


class RefResBlock(nn.Module):
    def __init__(self, dim: int, norm: str) -> None:
        super().__init__()
        self.conv_block = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3),
                                        _norm(norm, dim), nn.ReLU(True), nn.ReflectionPad2d(1),
                                        nn.Conv2d(dim, dim, 3), _norm(norm, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


def ref_global_layers(input_nc: int, output_nc: int, ngf: int, nd: int, nb: int,
                      norm: str = "instance") -> list[nn.Module]:
    act = nn.ReLU(True)
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, ngf, 7), _norm(norm, ngf), act]
    for i in range(nd):
        m = 2 ** i
        layers += [nn.Conv2d(ngf * m, ngf * m * 2, 3, 2, 1), _norm(norm, ngf * m * 2), act]
    layers += [RefResBlock(ngf * 2 ** nd, norm) for _ in range(nb)]
    for i in range(nd):
        m = 2 ** (nd - i)
        layers += [nn.ConvTranspose2d(ngf * m, ngf * m // 2, 3, 2, 1, output_padding=1),
                   _norm(norm, ngf * m // 2), act]
    return layers + [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]


class RefGlobal(nn.Module):
    def __init__(self, *args: int) -> None:
        super().__init__()
        self.model = nn.Sequential(*ref_global_layers(*args))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


class RefLocal(nn.Module):
    def __init__(self, input_nc: int, output_nc: int, ngf: int, nd: int, nb: int, n_le: int,
                 nbl: int, norm: str = "instance") -> None:
        super().__init__()
        self.n_le = n_le
        self.model = nn.Sequential(*ref_global_layers(input_nc, output_nc, ngf * 2 ** n_le, nd,
                                                      nb, norm)[:-3])
        for n in range(1, n_le + 1):
            w = ngf * 2 ** (n_le - n)
            down = [nn.ReflectionPad2d(3), nn.Conv2d(input_nc, w, 7), _norm(norm, w),
                    nn.ReLU(True), nn.Conv2d(w, w * 2, 3, 2, 1), _norm(norm, w * 2), nn.ReLU(True)]
            up: list[nn.Module] = [RefResBlock(w * 2, norm) for _ in range(nbl)]
            up += [nn.ConvTranspose2d(w * 2, w, 3, 2, 1, output_padding=1), _norm(norm, w),
                   nn.ReLU(True)]
            if n == n_le:
                up += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, output_nc, 7), nn.Tanh()]
            setattr(self, f"model{n}_1", nn.Sequential(*down))
            setattr(self, f"model{n}_2", nn.Sequential(*up))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pyramid = [x]
        for _ in range(self.n_le):
            pyramid.append(self.downsample(pyramid[-1]))
        out = self.model(pyramid[-1])
        for n in range(1, self.n_le + 1):
            out = getattr(self, f"model{n}_2")(
                getattr(self, f"model{n}_1")(pyramid[self.n_le - n]) + out)
        return out


class RefEncoder(nn.Module):
    def __init__(self, input_nc: int, output_nc: int, ngf: int, nd: int,
                 norm: str = "instance") -> None:
        super().__init__()
        layers = ref_global_layers(input_nc, output_nc, ngf, nd, 0, norm)
        self.model = nn.Sequential(*layers)
        self.output_nc = output_nc

    def forward(self, x: torch.Tensor, inst: torch.Tensor) -> torch.Tensor:
        out = self.model(x)
        mean = out.clone()
        for b in range(x.shape[0]):
            for i in inst[b, 0].unique():
                where = inst[b, 0] == i
                for j in range(self.output_nc):
                    mean[b, j][where] = out[b, j][where].mean()
        return mean


class RefMultiD(nn.Module):
    def __init__(self, input_nc: int, ndf: int, n_layers: int, norm: str, num_D: int,
                 interm: bool) -> None:
        super().__init__()
        self.num_D, self.n_layers, self.interm = num_D, n_layers, interm
        for i in range(num_D):
            stages = ref_nlayer(input_nc, ndf, n_layers, norm, padding=2, all_bias=True,
                                hd_widths=True)
            if interm:
                for j, s in enumerate(stages):
                    setattr(self, f"scale{i}_layer{j}", nn.Sequential(*s))
            else:
                setattr(self, f"layer{i}", _flat(stages))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[list[torch.Tensor]]:
        result = []
        for i in range(self.num_D):
            k = self.num_D - 1 - i                          # coarsest registered first
            if self.interm:
                feats = [x]
                for j in range(self.n_layers + 2):
                    feats.append(getattr(self, f"scale{k}_layer{j}")(feats[-1]))
                result.append(feats[1:])
            else:
                result.append([getattr(self, f"layer{k}")(x)])
            if i != self.num_D - 1:
                x = self.downsample(x)
        return result


# --------------------------------------------------------------------------- BicycleGAN


class RefZBlock(nn.Module):
    """BicycleGAN's UnetBlock_with_z, basic up-sampling, ReLU."""

    def __init__(self, input_nc: int, outer: int, inner: int, nz: int,
                 sub: nn.Module | None = None, outermost: bool = False,
                 innermost: bool = False, norm: str = "instance") -> None:
        super().__init__()
        self.outermost, self.innermost, self.nz = outermost, innermost, nz
        downconv = [nn.Conv2d(input_nc + nz, inner, 4, 2, 1)]
        if outermost:
            down, up = downconv, [nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1),
                                  nn.Tanh()]
        elif innermost:
            down = [nn.LeakyReLU(0.2, True)] + downconv
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner, outer, 4, 2, 1), _norm(norm, outer)]
        else:
            down = [nn.LeakyReLU(0.2, True)] + downconv + [_norm(norm, inner)]
            up = [nn.ReLU(True), nn.ConvTranspose2d(inner * 2, outer, 4, 2, 1), _norm(norm, outer)]
        self.down, self.submodule, self.up = nn.Sequential(*down), sub, nn.Sequential(*up)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        zi = z.view(z.size(0), z.size(1), 1, 1).expand(z.size(0), z.size(1), x.size(2), x.size(3))
        xz = torch.cat([x, zi], 1)
        if self.outermost:
            return self.up(self.submodule(self.down(xz), z))
        if self.innermost:
            return torch.cat([self.up(self.down(xz)), x], 1)
        return torch.cat([self.up(self.submodule(self.down(xz), z)), x], 1)


class RefAddAll(nn.Module):
    def __init__(self, input_nc: int, output_nc: int, nz: int, num_downs: int, ngf: int) -> None:
        super().__init__()
        b = RefZBlock(ngf * 8, ngf * 8, ngf * 8, nz, None, innermost=True)
        b = RefZBlock(ngf * 8, ngf * 8, ngf * 8, nz, b)
        for _ in range(num_downs - 6):
            b = RefZBlock(ngf * 8, ngf * 8, ngf * 8, nz, b)
        b = RefZBlock(ngf * 4, ngf * 4, ngf * 8, nz, b)
        b = RefZBlock(ngf * 2, ngf * 2, ngf * 4, nz, b)
        b = RefZBlock(ngf, ngf, ngf * 2, nz, b)
        self.model = RefZBlock(input_nc, output_nc, ngf, nz, b, outermost=True)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.model(x, z)


class RefAddInput(nn.Module):
    def __init__(self, input_nc: int, output_nc: int, nz: int, num_downs: int, ngf: int) -> None:
        super().__init__()
        self.model = ref_unet(input_nc + nz, output_nc, num_downs, ngf, "instance",
                              bicycle=True).model

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        zi = z.view(z.size(0), z.size(1), 1, 1).expand(z.size(0), z.size(1), x.size(2), x.size(3))
        return self.model(torch.cat([x, zi], 1))


class RefDMulti(nn.Module):
    def __init__(self, input_nc: int, ndf: int, n_layers: int, num_D: int,
                 norm: str = "instance") -> None:
        super().__init__()
        self.num_D = num_D
        for i in range(num_D):
            w = ndf if i == 0 else int(round(ndf / 2 ** i))
            stages = ref_nlayer(input_nc, w, n_layers, norm, all_bias=True)
            self.add_module("model" if num_D == 1 else f"model_{i}", _flat(stages))
        self.down = nn.AvgPool2d(3, stride=2, padding=[1, 1], count_include_pad=False)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        if self.num_D == 1:
            return [self.model(x)]
        out = []
        for i in range(self.num_D):
            out.append(getattr(self, f"model_{i}")(x))
            if i != self.num_D - 1:
                x = self.down(x)
        return out


class RefBasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, norm: str = "instance") -> None:
        super().__init__()
        self.conv = nn.Sequential(_norm(norm, cin), nn.LeakyReLU(0.2, True),
                                  nn.Conv2d(cin, cin, 3, 1, 1), _norm(norm, cin),
                                  nn.LeakyReLU(0.2, True),
                                  nn.Sequential(nn.Conv2d(cin, cout, 3, 1, 1), nn.AvgPool2d(2, 2)))
        self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(cin, cout, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) + self.shortcut(x)


class RefEResNet(nn.Module):
    def __init__(self, input_nc: int, output_nc: int, ndf: int, n_blocks: int,
                 vae: bool = True) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(input_nc, ndf, 4, 2, 1)]
        for n in range(1, n_blocks):
            layers.append(RefBasicBlock(ndf * min(4, n), ndf * min(4, n + 1)))
        layers += [nn.LeakyReLU(0.2, True), nn.AvgPool2d(8)]
        out = ndf * min(4, n_blocks)
        self.vae = vae
        self.fc = nn.Sequential(nn.Linear(out, output_nc))
        if vae:
            self.fcVar = nn.Sequential(nn.Linear(out, output_nc))
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        flat = self.conv(x).view(x.size(0), -1)
        return self.fc(flat), (self.fcVar(flat) if self.vae else None)


# --------------------------------------------------------------------------- layouts


def reference(arch: str, **o: object) -> nn.Module:
    """The reference network for ``arch`` at the official options ``o`` (defaults filled)."""
    o = {**DEFAULTS[arch], **o}
    if arch == "pix2pix:G":
        nd = {"unet_128": 7, "unet_256": 8}[o["netG"]]
        return ref_unet(o["input_nc"], o["output_nc"], nd, o["ngf"], o["norm"], o["use_dropout"])
    if arch == "pix2pix:D":
        if o["netD"] == "pixel":
            return RefPixel(o["input_nc"], o["ndf"], o["norm"])
        n = 3 if o["netD"] == "basic" else o["n_layers_D"]
        return RefPatch(o["input_nc"], o["ndf"], n, o["norm"])
    if arch == "pix2pixhd:G":
        a = (o["input_nc"], o["output_nc"], o["ngf"], o["n_downsample_global"],
             o["n_blocks_global"])
        if o["netG"] == "global":
            return RefGlobal(*a)
        return RefLocal(*a, o["n_local_enhancers"], o["n_blocks_local"])
    if arch == "pix2pixhd:D":
        return RefMultiD(o["input_nc"], o["ndf"], o["n_layers_D"], o["norm"], o["num_D"],
                         o["getIntermFeat"])
    if arch == "pix2pixhd:E":
        return RefEncoder(o["input_nc"], o["output_nc"], o["ngf"], o["n_downsample_global"])
    if arch == "bicyclegan:G":
        nd = {"unet_128": 7, "unet_256": 8}[o["netG"]]
        cls = RefAddAll if o["where_add"] == "all" else RefAddInput
        return cls(o["input_nc"], o["output_nc"], o["nz"], nd, o["ngf"])
    if arch == "bicyclegan:D":
        n = {"basic_256_multi": 3, "basic_128_multi": 2}[o["netD"]]
        return RefDMulti(o["input_nc"], o["ndf"], n, o["num_Ds"], o["norm"])
    n = {"resnet_128": 4, "resnet_256": 5}[o["netE"]]
    return RefEResNet(o["input_nc"], o["output_nc"], o["ndf"], n, o["vaeLike"])


# Official parameter counts at the default configurations (print_network's sum over
# net.parameters()); pix2pixHD G is the published label2city_1024p (--netG local --ngf 32).
FULL = [("pix2pix:G", {}, 54_413_955), ("pix2pix:G", {"netG": "unet_128"}, 41_828_995),
        ("pix2pix:D", {}, 2_768_705), ("pix2pix:D", {"netD": "pixel"}, 9_024),
        ("pix2pixhd:G", {}, 182_546_755),
        ("pix2pixhd:G", {"netG": "local", "ngf": 32}, 182_857_059),
        ("pix2pixhd:D", {}, 5_603_202), ("pix2pixhd:E", {}, 788_803),
        ("bicyclegan:G", {}, 54_794_627), ("bicyclegan:G", {"where_add": "input"}, 54_417_795),
        ("bicyclegan:D", {}, 3_458_978), ("bicyclegan:E", {}, 2_590_032)]


@pytest.mark.parametrize("arch, options, count", FULL)
def test_official_layout_at_full_defaults_loads_every_key(arch, options, count) -> None:
    with torch.device("meta"):
        ref = reference(arch, **options)
    assert sum(p.numel() for p in ref.parameters()) == count
    from course_lib.pretrained import _expected, build_official
    with torch.device("meta"):
        net, pairs = build_official(arch, **options)
    expected, instance = _expected(net, pairs)
    layout = {k: tuple(v.shape) for k, v in ref.state_dict().items()}
    stale = {k for k in layout if k.rpartition(".")[0] in instance}
    # every official key is used (or is a stale instance-norm statistic), none is missing
    assert set(layout) - stale == set(expected)
    own = net.state_dict()
    assert all(layout[k] == tuple(own[c].shape) for k, c in expected.items())
    n = net.num_parameters() if hasattr(net, "num_parameters") else \
        sum(p.numel() for p in net.parameters())
    assert n == count


def _pair(arch: str, seed: int = 0, **options: object) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(seed)
    ref = _randomize(reference(arch, **options), seed).eval()
    state = {("module." + k if seed % 2 else k): v for k, v in ref.state_dict().items()}
    return ref, load_official(state, arch, **options)


def _max_diff(a: object, b: object) -> float:
    if isinstance(a, (list, tuple)):
        return max(_max_diff(x, y) for x, y in zip(a, b, strict=True))  # type: ignore[arg-type]
    return float((a - b).abs().max())  # type: ignore[operator]


SMALL = [
    ("pix2pix:G", dict(ngf=4), (2, 3, 256, 256)),
    ("pix2pix:G", dict(ngf=4, netG="unet_128", input_nc=1, norm="instance"), (2, 1, 128, 128)),
    ("pix2pix:D", dict(ndf=4), (2, 6, 64, 64)),
    ("pix2pix:D", dict(ndf=4, netD="n_layers", n_layers_D=4), (2, 6, 96, 96)),
    ("pix2pix:D", dict(ndf=4, netD="pixel"), (2, 6, 16, 16)),
    ("pix2pixhd:G", dict(ngf=4, input_nc=5, n_downsample_global=2, n_blocks_global=2),
     (1, 5, 32, 64)),
    ("pix2pixhd:G", dict(ngf=2, input_nc=5, netG="local", n_downsample_global=2,
                         n_blocks_global=1, n_blocks_local=2), (1, 5, 32, 64)),
    ("pix2pixhd:D", dict(ndf=4, input_nc=6, num_D=3), (2, 6, 128, 128)),
    ("pix2pixhd:D", dict(ndf=4, input_nc=6, getIntermFeat=False), (2, 6, 64, 96)),
    ("bicyclegan:D", dict(ndf=8), (2, 3, 64, 64)),
    ("bicyclegan:D", dict(ndf=8, num_Ds=1, netD="basic_128_multi"), (2, 3, 64, 64)),
]


@pytest.mark.parametrize("arch, options, shape", SMALL)
def test_forward_parity_with_the_official_layer_order(arch, options, shape) -> None:
    ref, net = _pair(arch, **options)
    assert not net.training
    x = torch.randn(*shape)
    with torch.no_grad():
        want = ref(x)
        got = net(x, return_features=True) if arch == "pix2pixhd:D" and options.get(
            "getIntermFeat", True) else net(x)
    if arch == "pix2pixhd:D" and not options.get("getIntermFeat", True):
        want = [w[0] for w in want]
    if arch == "bicyclegan:D" and not isinstance(got, list):
        got = [got]
    assert _max_diff(want, got) < TOL


def test_pix2pix_unet_parity_in_train_mode_without_dropout() -> None:
    """Batch statistics (the paper's test-time mode) and the skips' activations."""
    ref, net = _pair("pix2pix:G", ngf=4, use_dropout=False)
    x = torch.randn(2, 3, 256, 256)
    with torch.no_grad():
        assert _max_diff(ref.train()(x), net.train()(x)) < TOL


def test_pix2pix_unet_dropout_sits_where_the_official_code_puts_it() -> None:
    ref, net = _pair("pix2pix:G", ngf=4)
    x = torch.randn(1, 3, 256, 256)
    ref.train(), net.train()
    with torch.no_grad():
        torch.manual_seed(5)
        a = ref(x)
        torch.manual_seed(5)
        b = net(x)
    assert _max_diff(a, b) < TOL                       # same masks drawn in the same order


@pytest.mark.parametrize("where_add, size", [("all", 256), ("input", 128)])
def test_bicyclegan_generator_parity(where_add: str, size: int) -> None:
    net_g = "unet_256" if size == 256 else "unet_128"
    ref, net = _pair("bicyclegan:G", ngf=4, nz=3, where_add=where_add, netG=net_g, input_nc=1)
    x, z = torch.randn(2, 1, size, size), torch.randn(2, 3)
    with torch.no_grad():
        assert _max_diff(ref(x, z), net(x, z)) < TOL


@pytest.mark.parametrize("net_e, vae", [("resnet_256", True), ("resnet_128", False)])
def test_bicyclegan_encoder_parity(net_e: str, vae: bool) -> None:
    ref, net = _pair("bicyclegan:E", seed=1, ndf=4, netE=net_e, vaeLike=vae)
    side = 256 if net_e == "resnet_256" else 128       # AvgPool2d(8) needs the 8x8 map
    x = torch.randn(2, 3, side, side)
    with torch.no_grad():
        (mu_r, lv_r), (mu, lv) = ref(x), net(x)
    assert _max_diff(mu_r, mu) < TOL
    assert (lv is None) == (not vae) and (not vae or _max_diff(lv_r, lv) < TOL)


def test_pix2pixhd_encoder_parity() -> None:
    ref, net = _pair("pix2pixhd:E", ngf=4, n_downsample_global=2)
    x = torch.randn(2, 3, 16, 16)
    inst = torch.randint(0, 3, (2, 1, 16, 16))
    with torch.no_grad():
        assert _max_diff(ref(x, inst), net(x, inst)) < TOL


# --------------------------------------------------------------------------- bad input


def test_file_round_trip_and_bad_files(tmp_path) -> None:
    ref = _randomize(reference("pix2pix:D", ndf=4))
    good = tmp_path / "latest_net_D.pth"
    torch.save(ref.state_dict(), good)
    assert not load_official(good, "pix2pix:D", ndf=4).training
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="truncated.pth.*truncated or corrupt"):
        load_official(truncated, "pix2pix:D", ndf=4)
    module_pickle = tmp_path / "whole_module.pth"
    torch.save(ref, module_pickle)                         # a pickled module, not a state dict
    with pytest.raises(ValueError, match="not a plain state dict"):
        load_official(module_pickle, "pix2pix:D", ndf=4)
    a_list = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], a_list)
    with pytest.raises(ValueError, match="not a state dict"):
        load_official(a_list, "pix2pix:D", ndf=4)
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        load_official(tmp_path / "missing.pth", "pix2pix:D")
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps({"a": 1}, protocol=2))
    with pytest.raises(ValueError, match="plain.pkl"):
        load_official(plain, "pix2pix:D")
    with pytest.raises(ValueError, match="maps 'model.0.weight' to a str"):
        load_official({"model.0.weight": "x"}, "pix2pix:D")


def test_mismatches_are_named() -> None:
    d_state = _randomize(reference("pix2pixhd:D", ndf=4, input_nc=6)).state_dict()
    with pytest.raises(ValueError, match=r"lacks the key 'scale2_layer0.0.weight'"):
        load_official(d_state, "pix2pixhd:D", ndf=4, input_nc=6, num_D=3)
    with pytest.raises(ValueError, match=r"'scale0_layer0.0.weight' has shape \(4, 6, 4, 4\)"):
        load_official(d_state, "pix2pixhd:D", ndf=8, input_nc=6)
    g_state = _randomize(reference("pix2pix:G", ngf=4)).state_dict()
    with pytest.raises(ValueError, match=r"'model.model.0.weight' has shape \(4, 3, 4, 4\)"):
        load_official(g_state, "pix2pix:G")                # ngf 64 expected
    with pytest.raises(ValueError, match="pix2pix:D: the checkpoint has the key 'model.model"):
        load_official(g_state, "pix2pix:D")                 # another architecture
    with pytest.raises(ValueError, match="arch='cyclegan:G' is not known"):
        load_official(g_state, "cyclegan:G")
    with pytest.raises(ValueError, match="does not take the option"):
        load_official(g_state, "pix2pix:G", which_model_netG="unet_256")
    with pytest.raises(ValueError, match="netG='resnet_9blocks' is not built"):
        load_official(g_state, "pix2pix:G", netG="resnet_9blocks")


def test_stale_instance_norm_statistics_are_dropped_and_old_batch_norm_files_load() -> None:
    ref = _randomize(reference("bicyclegan:D", ndf=8))
    state = ref.state_dict()
    assert any(k.endswith("running_mean") for k in state)  # the old InstanceNorm wrote them
    load_official(state, "bicyclegan:D", ndf=8)
    old = {k.replace("model_", "model"): v for k, v in state.items()}   # older scale names
    load_official(old, "bicyclegan:D", ndf=8)
    g = _randomize(reference("pix2pix:D", ndf=4)).state_dict()
    no_counter = {k: v for k, v in g.items() if not k.endswith("num_batches_tracked")}
    load_official(no_counter, "pix2pix:D", ndf=4)          # PyTorch < 0.4.1 files


def test_published_registry() -> None:
    assert sorted(m.split("/")[0] for m in PUBLISHED) == ["bicyclegan"] * 5 + ["pix2pix"] * 6 \
        + ["pix2pixhd"]
    for m in PUBLISHED.values():
        assert m.arch in ARCHS and m.direction
    assert get_model("facades_label2photo").url == \
        "http://efrosgans.eecs.berkeley.edu/pix2pix/models-pytorch/facades_label2photo.pth"
    assert get_model("bicyclegan/maps").files["E"].endswith("/models/maps_net_E.pth")
    with pytest.raises(KeyError, match="several"):
        get_model("edges2shoes")
    assert model_path("pix2pix/sat2map", "x").as_posix() == "x/pix2pix/sat2map/latest_net_G.pth"
    assert set(ARCHS) == set(DEFAULTS)


def test_cli_list_download_and_sample_official(tmp_path, monkeypatch, capsys) -> None:
    """`pretrained list | download` and `sample --official`, offline (a file:// URL)."""
    import dataclasses

    from PIL import Image

    import course_lib.pretrained as P
    from course_lib.cli import main

    ref = _randomize(reference("bicyclegan:G", ngf=2, nz=3, input_nc=1))
    enc = _randomize(reference("bicyclegan:E", ndf=2, output_nc=3))
    torch.save(ref.state_dict(), tmp_path / "tiny_net_G.pth")
    torch.save(enc.state_dict(), tmp_path / "tiny_net_E.pth")
    tiny = dataclasses.replace(P.PUBLISHED["bicyclegan/edges2shoes"],
                               url=(tmp_path / "tiny_net_G.pth").as_uri(),
                               options=dict(input_nc=1, ngf=2, nz=3),
                               files={"E": (tmp_path / "tiny_net_E.pth").as_uri()})
    monkeypatch.setitem(P.PUBLISHED, "bicyclegan/edges2shoes", tiny)
    monkeypatch.chdir(tmp_path)
    assert main(["pretrained", "list"]) == 0
    assert "bicyclegan/edges2shoes" in capsys.readouterr().out
    assert main(["pretrained", "download", "bicyclegan/edges2shoes"]) == 0
    assert model_path("bicyclegan/edges2shoes", "data/pretrained", "E").is_file()
    (tmp_path / "in").mkdir()
    Image.new("RGB", (300, 200), (255, 255, 255)).save(tmp_path / "in" / "edge.png")
    assert main(["sample", "--official", "bicyclegan/edges2shoes", "--input", "in",
                 "--output", "out", "--num", "2"]) == 0
    outs = sorted((tmp_path / "out").iterdir())
    assert [p.name for p in outs] == ["edge_0.png", "edge_1.png"]
    with Image.open(outs[0]) as im:
        assert im.size == (256, 256)
    assert main(["sample", "--official", "bicyclegan/edges2shoes", "--input", "in",
                 "--output", "out", "--num", "2"]) == 1          # never overwrites
    assert "already holds 2 of the 2 output(s)" in capsys.readouterr().err
    assert main(["sample", "--official", "bicyclegan/edges2shoes", "--input", "in",
                 "--output", "out", "--num", "2", "--overwrite"]) == 0
    # the same safety rules as `sample RUN`: inputs are never written over or mixed with
    assert main(["sample", "--official", "bicyclegan/edges2shoes", "--input", "in",
                 "--output", "in/out"]) == 1
    assert "is inside --input" in capsys.readouterr().err
    (tmp_path / "in" / "edge.jpg").write_bytes(b"not an image")
    assert main(["sample", "--official", "bicyclegan/edges2shoes", "--input", "in",
                 "--output", "out2"]) == 1
    err = capsys.readouterr()
    assert "1 of 2 input image(s) could not be translated" in err.err
    assert [p.name for p in (tmp_path / "out2").iterdir()] == ["edge_png.png"]
    assert main(["pretrained", "download", "pix2pixhd/label2city_1024p"]) == 1
    assert "Google Drive" in capsys.readouterr().err
