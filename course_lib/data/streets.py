"""Streets: semantic label map + instance map -> street scene, 2:1 like Cityscapes.

pix2pixHD (Wang et al., CVPR 2018) synthesises Cityscapes street scenes from label maps and
adds two things that this dataset is built to show:

* **Instance maps** (Sec. 3.3, Fig. 4): a semantic map cannot tell two touching cars of the
  same class apart; the boundary map computed from the instance map can. Here parked cars
  stand bumper to bumper and pedestrians walk in groups, so touching same-class objects are
  in almost every scene and only ``instance_map`` separates them. In the photo, two
  touching cars differ in colour and are parted by a dark crease (every car's outline is
  drawn one pixel wide at a quarter of its brightness): a seam the semantic map cannot
  place.
* **Instance-level feature embedding** (Sec. 3.4, Eq. 6-7): each car and each person gets
  its own random colour, independent of its shape, so an encoder that averages features
  per instance can learn it and a user can edit it.

The scene is a small 3-D street seen by a pinhole camera 1.6 m above the road: a road with
lane markings between two sidewalks, building walls with windows on both sides and across
the end of the street, sky, trees, lamp posts, parked and moving cars and pedestrians.
Surfaces are classified per pixel in torch by intersecting each pixel's ray with the ground,
the side walls and the end wall; objects are planar polygons projected into the image and
painted far to near (painter's algorithm).

Instance map convention (as Cityscapes' ``*_instanceIds.png``): pixels of "stuff" classes
(road, sidewalk, building, pole, vegetation, sky) hold their class id; pixels of "thing"
classes (person, car) hold ``class_id * 1000 + k`` with ``k = 0, 1, ...`` numbering the
instances of that class in the scene. Every object thus has its own id, and the boundaries
of the instance map include all class boundaries, as pix2pixHD's edge map expects.
"""
from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from course_lib.data.synthetic import (
    RandomStream,
    SyntheticPairs,
    pixel_grid,
    rasterise_polygons,
    smooth_noise,
    to_signed,
)

__all__ = ["SyntheticStreets", "Camera", "Street", "StreetObject", "street_scene",
           "render_scene", "CLASS_NAMES", "THING_CLASSES", "INSTANCE_OFFSET"]

CLASS_NAMES: tuple[str, ...] = ("road", "sidewalk", "building", "pole", "vegetation", "sky",
                                "person", "car")
ROAD, SIDEWALK, BUILDING, POLE, VEGETATION, SKY, PERSON, CAR = range(8)
THING_CLASSES: tuple[int, ...] = (PERSON, CAR)
INSTANCE_OFFSET = 1000  # thing instance id = class_id * 1000 + k
# The Cityscapes colours of these classes (Cordts et al., CVPR 2016).
PALETTE: tuple[tuple[int, int, int], ...] = ((128, 64, 128), (244, 35, 232), (70, 70, 70),
                                             (153, 153, 153), (107, 142, 35), (70, 130, 180),
                                             (220, 20, 60), (0, 0, 142))
NEAREST = 2.5  # metres: objects closer than this to the camera are not placed
_TALL = {"car": 1.4, "person": 1.7, "tree": 5.0, "pole": 6.0}  # rough heights, metres


# --------------------------------------------------------------------------- scene description


@dataclass(frozen=True)
class Camera:
    """A pinhole camera looking down the street (+Z), with the road at Y = 0.

    Image coordinates are in height units: ``y`` from 0 (top) to 1, ``x`` from 0 to
    width / height. A world point ``(X, Y, Z)`` in metres (X to the right, Y up) projects to
    ``x = cx + focal X / Z`` and ``y = horizon + focal (height - Y) / Z``.
    """

    horizon: float
    cx: float
    focal: float
    height: float = 1.6

    def project(self, X: np.ndarray, Y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """(N,) world coordinates -> (N, 2) image points ``(x, y)``."""
        return np.stack([self.cx + self.focal * X / Z,
                         self.horizon + self.focal * (self.height - Y) / Z], -1)


@dataclass(frozen=True)
class Street:
    """The static layout: road edges, wall positions and building heights (metres)."""

    road_left: float  # X of the left kerb (negative)
    road_right: float  # X of the right kerb
    wall_left: float  # X of the left building fronts
    wall_right: float
    centre_line: float  # X of the dashed centre line
    end: float  # Z of the building across the end of the street (inf: open view)
    left_blocks: tuple[tuple[float, ...], tuple[float, ...]]  # (Z edges, heights)
    right_blocks: tuple[tuple[float, ...], tuple[float, ...]]
    end_blocks: tuple[tuple[float, ...], tuple[float, ...]]  # (X edges, heights)


@dataclass
class StreetObject:
    """A car, person, tree or lamp post standing at depth ``z`` (for drawing order)."""

    kind: str  # "car" | "person" | "tree" | "pole"
    x: float  # lateral position of the object's centre, metres
    z: float  # depth of its nearest face, metres
    params: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- layout


def _blocks(rs: RandomStream, start: float, stop: float, low: float, high: float
            ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Consecutive buildings along one axis: inner edges and heights."""
    edges, heights = [], [rs.uniform(low, high)]
    pos = start
    while True:
        pos += rs.uniform(6.0, 22.0)
        if pos >= stop:
            break
        edges.append(pos)
        heights.append(rs.uniform(low, high))
    return tuple(edges), tuple(heights)


def street_scene(rs: RandomStream, aspect: float = 2.0) -> tuple[Camera, Street,
                                                                  list[StreetObject]]:
    """Draw a random street: camera, static layout and objects (far to near).

    At least one row of two or more cars parked bumper to bumper is placed near the camera,
    so touching instances of one class appear in (almost) every scene.
    """
    camera = Camera(horizon=rs.uniform(0.38, 0.48), cx=aspect / 2 + rs.uniform(-0.08, 0.08),
                    focal=rs.uniform(0.75, 0.95))
    centre_line = -rs.uniform(1.5, 1.9)
    oncoming = centre_line - 1.75  # centre of the oncoming lane
    park_left = oncoming - 2.3 if rs.chance(0.85) else None
    park_right = rs.uniform(2.6, 3.2) if rs.chance(0.85) else None
    if park_left is None and park_right is None:
        park_right = rs.uniform(2.6, 3.2)
    road_left = (park_left - 1.05) if park_left is not None else oncoming - 1.9
    road_right = (park_right + 1.05) if park_right is not None else rs.uniform(1.8, 2.4)
    wall_left = road_left - rs.uniform(2.0, 4.5)
    wall_right = road_right + rs.uniform(2.0, 4.5)
    end = rs.uniform(60.0, 160.0) if rs.chance(0.75) else math.inf
    far = min(end, 400.0)
    street = Street(
        road_left=road_left, road_right=road_right, wall_left=wall_left,
        wall_right=wall_right, centre_line=centre_line, end=end,
        left_blocks=_blocks(rs, 0.0, far, 7.0, 30.0),
        right_blocks=_blocks(rs, 0.0, far, 7.0, 30.0),
        end_blocks=_blocks(rs, wall_left - 60.0, wall_right + 60.0, 8.0, 35.0),
    )
    objects: list[StreetObject] = []

    def car(x: float, z: float, facing_camera: bool) -> float:
        length = rs.uniform(3.8, 4.9)
        objects.append(StreetObject("car", x, z, {
            "length": length, "width": rs.uniform(1.68, 1.9), "tall": rs.uniform(0.95, 1.2),
            "front": float(facing_camera)}))
        return length

    # Parked rows along the kerbs; the first row is guaranteed to touch.
    sides = [x for x in (park_left, park_right) if x is not None]
    must_touch = rs.integer(0, len(sides) - 1)
    for i, x_park in enumerate(sides):
        z = rs.uniform(3.0, 8.0) if i == must_touch else rs.uniform(3.0, 14.0)
        rows = rs.integer(1, 3)
        for row in range(rows):
            n = rs.integer(2, 5) if (i == must_touch and row == 0) else rs.integer(1, 5)
            for k in range(n):
                z += car(x_park, z, rs.chance(0.5))
                touching = (i == must_touch and row == 0 and k == 0) or rs.chance(0.6)
                z += 0.0 if touching else rs.uniform(0.6, 3.0)
            z += rs.uniform(5.0, 20.0)
            if z > 70.0:
                break
    # Moving cars: ahead in our lane and oncoming.
    for _ in range(rs.integer(0, 2)):
        car(rs.uniform(-0.4, 0.4), rs.uniform(9.0, 60.0), False)
    for _ in range(rs.integer(0, 2)):
        car(oncoming + rs.uniform(-0.3, 0.3), rs.uniform(9.0, 60.0), True)

    # Pedestrians, alone or in groups of 2-4 standing shoulder to shoulder.
    for _ in range(rs.integer(2, 7)):
        left = rs.chance(0.5)
        kerb, wall = (road_left, wall_left) if left else (road_right, wall_right)
        x = kerb + (wall - kerb) * rs.uniform(0.25, 0.85)
        z = rs.uniform(NEAREST + 1.5, 28.0)
        size = rs.choice((1, 2, 2, 3, 4))
        step = rs.uniform(0.32, 0.46) * (1 if wall > kerb else -1)
        lo, hi = min(kerb, wall) + 0.3, max(kerb, wall) - 0.3
        for k in range(size):
            xk = min(max(x + k * step, lo), hi)
            objects.append(StreetObject("person", xk, z + rs.uniform(-0.25, 0.25), {
                "tall": rs.uniform(1.55, 1.95), "build": rs.uniform(0.9, 1.15)}))

    # Trees and lamp posts along the kerbs.
    for kerb, sign in ((road_left, -1.0), (road_right, 1.0)):
        if rs.chance(0.6):
            z = rs.uniform(NEAREST + 2.0, 15.0)
            while z < 90.0:
                objects.append(StreetObject("tree", kerb + sign * 0.8, z, {
                    "crown": rs.uniform(1.6, 2.8), "trunk": rs.uniform(2.2, 3.2)}))
                z += rs.uniform(8.0, 18.0)
        z = rs.uniform(NEAREST + 3.0, 20.0)
        while z < 120.0:
            objects.append(StreetObject("pole", kerb + sign * 0.35, z, {
                "height": rs.uniform(6.0, 8.0), "arm": -sign * rs.uniform(1.0, 1.8)}))
            z += rs.uniform(18.0, 35.0)

    objects = [o for o in objects if o.z >= NEAREST]
    objects.sort(key=lambda o: -o.z)  # far to near
    return camera, street, objects


# --------------------------------------------------------------------------- background


def _aa_band(dist: torch.Tensor, half_width: float, footprint: torch.Tensor,
             period: float | None = None) -> torch.Tensor:
    """Anti-aliased coverage (0-1) of a band ``|dist| < half_width`` by one pixel.

    ``footprint`` is the size of a pixel in the same units (metres on the road or a wall):
    the coverage is the overlap of the pixel with the band. For a periodic pattern
    (``period``), pixels larger than half a period get the pattern's average instead, which
    keeps distant lane dashes, paving joints and windows from aliasing into moire.
    """
    fp = footprint.clamp(min=1e-6)
    hi = torch.minimum(dist + fp / 2, torch.tensor(half_width))
    lo = torch.maximum(dist - fp / 2, torch.tensor(-half_width))
    cover = (hi - lo).clamp(min=0) / fp
    if period is None:
        return cover
    t = (2 * fp / period - 0.5).clamp(0.0, 1.0)
    return cover + (2 * half_width / period - cover) * t


def _periodic(pos: torch.Tensor, period: float) -> torch.Tensor:
    """Signed distance to the nearest multiple of ``period``."""
    return pos - period * torch.round(pos / period)


def _background(camera: Camera, street: Street, rs: RandomStream, height: int,
                width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Classify every pixel as road, sidewalk, building or sky and paint it.

    Each pixel's ray is intersected with the ground plane, the two walls and the end wall;
    the nearest hit decides. Returns the class map (H, W) and the photo (3, H, W) in [0, 1].
    """
    g = rs.generator
    ys, xs = pixel_grid(height, width)  # (H, 1), (1, W)
    f, hc = camera.focal, camera.height
    dy = ys - camera.horizon
    dx = xs - camera.cx
    dy = torch.where(dy.abs() < 1e-6, torch.full_like(dy, 1e-6), dy)
    dx = torch.where(dx.abs() < 1e-6, torch.full_like(dx, 1e-6), dx)
    inf = torch.tensor(math.inf)

    z_ground = torch.where(dy > 0, f * hc / dy.abs(), inf)  # (H, 1)
    x_wall = torch.where(dx < 0, street.wall_left, street.wall_right)  # (1, W)
    z_wall = f * x_wall / dx  # (1, W), positive on both sides
    z_end = torch.tensor(street.end)
    hit_ground = (dy > 0) & (z_ground <= z_wall) & (z_ground <= z_end)  # (H, W)
    hit_wall = ~hit_ground & (z_wall <= z_end)
    hit_end = ~hit_ground & ~hit_wall

    # Ground: road between the kerbs, sidewalk outside them.
    gz = z_ground.clamp(max=1e5).expand(height, width)  # depth on the ground, metres
    gx = dx * gz / f  # (H, W) lateral position on the ground, metres
    on_road = (gx >= street.road_left) & (gx <= street.road_right)
    # Walls: the building's height at the hit decides between building and sky.
    wy = hc - dy * z_wall / f  # (H, W) height of the hit on the side wall
    left_e, left_h = (torch.tensor(v, dtype=torch.float32) for v in street.left_blocks)
    right_e, right_h = (torch.tensor(v, dtype=torch.float32) for v in street.right_blocks)
    z_col = z_wall[0].clamp(max=1e6)
    li = torch.searchsorted(left_e, z_col)
    ri = torch.searchsorted(right_e, z_col)
    block = torch.where(dx[0] < 0, li, ri + 100)  # (W,) block number, used for colours
    top = torch.where(dx[0] < 0, left_h[li], right_h[ri])
    wall_building = wy <= top
    # End wall.
    z_e = min(street.end, 1e6)
    ey = hc - dy * z_e / f  # (H, 1)
    ex = (dx * z_e / f)[0]  # (W,)
    end_e, end_h = (torch.tensor(v, dtype=torch.float32) for v in street.end_blocks)
    ei = torch.searchsorted(end_e, ex)
    end_building = (ey <= end_h[ei]) & torch.isfinite(z_end)

    class_map = torch.full((height, width), SKY, dtype=torch.long)
    class_map[hit_ground & on_road] = ROAD
    class_map[hit_ground & ~on_road] = SIDEWALK
    class_map[(hit_wall & wall_building) | (hit_end & end_building)] = BUILDING

    # ---- photo. Brightness is computed per surface on one channel and coloured once.
    px_size = 1.0 / height  # one pixel, in height units
    white = torch.rand(height, width, generator=g).sub_(0.5)  # per-pixel noise
    soft = smooth_noise(g, height, width, rs.uniform(3, 7), channels=2)
    # Sky: gradient to a pale horizon, with clouds.
    zenith = torch.tensor([rs.uniform(0.3, 0.55), rs.uniform(0.5, 0.65),
                           rs.uniform(0.75, 0.92)]).view(3, 1, 1)
    horizon_c = torch.tensor([0.86, 0.89, 0.93]).view(3, 1, 1) * rs.uniform(0.9, 1.05)
    t = (ys / max(camera.horizon, 0.05)).clamp(0, 1)
    clouds = ((soft[0] - rs.uniform(0.0, 0.4)) * rs.uniform(0.6, 1.8)).clamp(0, 1)
    sky = zenith + (horizon_c - zenith) * t  # (3, H, 1)
    sky = sky + (0.97 - sky) * clouds
    # Road: asphalt with a dashed centre line and, sometimes, lines along the kerbs.
    fp_x = gz * (px_size / f)  # metres per pixel across the road
    fp_z = gz * gz * (px_size / (f * hc))  # metres per pixel along the road
    dash = _aa_band(_periodic(gz + rs.uniform(0, 9), 9.0), 1.5, fp_z, 9.0)
    paint = _aa_band(gx - street.centre_line, 0.07, fp_x) * dash
    if rs.chance(0.7):
        for kerb_line in (street.road_left + 0.4, street.road_right - 0.4):
            paint = torch.maximum(paint, 0.8 * _aa_band(gx - kerb_line, 0.06, fp_x))
    asphalt = rs.uniform(0.26, 0.4) * (1 + 0.06 * soft[1] + 0.25 * white)
    road = asphalt + (0.85 - asphalt) * paint
    # Sidewalk: paving slabs with joints, and a darker kerb stone along the road.
    slab = rs.uniform(0.45, 0.8)
    joints = torch.maximum(_aa_band(_periodic(gx, slab), 0.02, fp_x, slab),
                           _aa_band(_periodic(gz, slab), 0.02, fp_z, slab))
    kerb = torch.minimum((gx - street.road_left).abs(), (gx - street.road_right).abs()) < 0.15
    walk = rs.uniform(0.58, 0.72) * (1 - 0.25 * joints) * (1 + 0.15 * white)
    walk = torch.where(kerb, 0.5, walk)
    ground = torch.where(on_road, road, walk)  # (H, W)
    walk_tint = torch.tensor([1.0, rs.uniform(0.95, 1.0), rs.uniform(0.88, 0.98)])
    tint = torch.where(on_road, 1.0, walk_tint.view(3, 1, 1))  # (3, H, W)
    # Buildings: one colour per block, rows of windows, a dark shop floor, one side in
    # the shade.
    palette = torch.tensor([[0.72, 0.66, 0.58], [0.60, 0.58, 0.55], [0.78, 0.74, 0.66],
                            [0.55, 0.40, 0.33], [0.82, 0.80, 0.76], [0.66, 0.62, 0.50],
                            [0.50, 0.52, 0.56], [0.76, 0.62, 0.50]])
    table = palette[torch.randint(0, len(palette), (256,), generator=g)] * \
        (0.85 + 0.3 * torch.rand(256, 1, generator=g))
    facade_id = torch.where(hit_end, (ei + 200)[None, :], block[None, :]).remainder(256)
    facade = table.t()[:, facade_id]  # (3, H, W)
    along = torch.where(hit_end, ex[None, :], z_wall)  # metres along the facade
    up = torch.where(hit_end, ey, wy)  # metres above the ground
    dist = torch.where(hit_end, z_e, z_wall)
    fp_up = dist * (px_size / f)
    fp_along = torch.where(hit_end, fp_up, dist * fp_up / x_wall.abs())
    bay, storey = rs.uniform(2.6, 4.0), rs.uniform(3.0, 3.6)
    win_w, win_h = bay * rs.uniform(0.35, 0.55), storey * rs.uniform(0.4, 0.55)
    win = _aa_band(_periodic(along, bay), win_w / 2, fp_along, bay) * \
        _aa_band(_periodic(up - storey * 0.55, storey), win_h / 2, fp_up, storey) * \
        (up > storey)
    lit = torch.where(up < storey * 0.9, 0.55 + 0.06 * soft[1], 1 + 0.1 * white)
    shaded = hit_wall & ((dx < 0) if rs.chance(0.5) else (dx > 0))
    lit = torch.where(shaded, lit * rs.uniform(0.6, 0.85), lit)
    glass = 0.2 + 0.2 * soft[0].clamp(min=0)  # dark windows with a little reflection
    building = facade * lit + (glass * torch.tensor([1.0, 1.2, 1.5]).view(3, 1, 1)
                               - facade * lit) * win

    photo = torch.where(class_map == SKY, sky, ground * tint)
    photo = torch.where(class_map == BUILDING, building, photo)
    return class_map, photo


# --------------------------------------------------------------------------- objects

# Materials: how the pixels of a face are coloured.
CAR_SIDE, CAR_BACK, PERSON_SKIN, TREE_CROWN, POLE_METAL = range(5)
CAR_COLOURS = ((0.0, 0.0, 0.92), (0.0, 0.0, 0.72), (0.0, 0.0, 0.45), (0.0, 0.0, 0.12),
               (0.62, 0.7, 0.45), (0.0, 0.8, 0.7), (0.35, 0.55, 0.35), (0.1, 0.35, 0.75),
               (0.14, 0.9, 0.9), (0.58, 0.6, 0.75))  # hue, saturation, value
WHEEL_RADIUS = 0.33  # metres
CREASE = 0.25  # brightness of a car's outline (see _car_outline)
WHEELS = (0.18, 0.8)  # wheel centres, as fractions of the car's length


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    """An RGB colour from hue, saturation and value in [0, 1]."""
    return colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0))


class _Faces:
    """The planar faces of a scene's objects, in drawing order (far to near).

    A face is an outline in the image (height units), a class and instance id, the plane it
    lies in (``plane_x``: a plane of constant X at ``plane``, like a car's side; otherwise
    constant depth Z, like a car's back or a person) and the material parameters that the
    shader reads (colours, sizes). Shadows are outlines that only darken the ground.
    """

    def __init__(self, camera: Camera) -> None:
        self.camera = camera
        self.outlines: list[np.ndarray] = []
        self.params: list[dict[str, Any]] = []
        self.shadows: list[np.ndarray] = []
        self._next_id = {c: 0 for c in THING_CLASSES}
        self._columns: dict[str, np.ndarray] = {}

    def new_instance(self, cls: int) -> int:
        """A fresh instance id ``cls * 1000 + k`` for a thing class."""
        k = self._next_id[cls]
        self._next_id[cls] += 1
        return cls * INSTANCE_OFFSET + k

    def add(self, world: np.ndarray, cls: int, instance: int, material: int,
            plane_x: bool, plane: float, **params: Any) -> None:
        """Add a face given by its (N, 3) world outline (X, Y, Z) in metres."""
        self.outlines.append(self.camera.project(world[:, 0], world[:, 1], world[:, 2]))
        self.params.append(dict(cls=cls, instance=instance, material=material,
                                plane_x=float(plane_x), plane=plane, **params))

    def column(self, key: str, width: int = 1) -> np.ndarray:
        """One parameter of every face, as an (F,) or (F, width) array (0 where unset)."""
        if key not in self._columns:  # faces are all added before the first lookup
            default = 0.0 if width == 1 else (0.0,) * width
            self._columns[key] = np.array([p.get(key, default) for p in self.params],
                                          dtype=np.float64)
        return self._columns[key]


def _car_side_outline(front: bool) -> tuple[np.ndarray, ...]:
    """A car's side outline as ``(fraction of length, metres, height, is roof)`` per vertex.

    The profile runs from the near end (fraction 0) to the far end: boot, rear window, roof,
    windscreen, bonnet (mirrored when the car faces the camera); the bottom edge dips around
    the two wheels. A vertex is at depth ``z0 + fraction * length + metres`` and at height
    ``height`` (times the car's ``tall`` factor for roof vertices).
    """
    profile = [(0.0, 0.3), (0.0, 0.95), (0.06, 1.0), (0.24, 1.02), (0.34, 1.42),
               (0.72, 1.42), (0.84, 1.02), (0.98, 0.96), (1.0, 0.9), (1.0, 0.3)]
    if front:
        profile = [(1.0 - s, y) for s, y in reversed(profile)]
    rows = [(s, 0.0, y) for s, y in profile]
    r = WHEEL_RADIUS
    for centre in sorted(WHEELS, reverse=True):
        for t in np.linspace(0.0, math.pi, 7):
            rows.append((centre, r * math.cos(t), r - r * math.sin(t)))
    frac, extra, y = (np.array(c) for c in zip(*rows))
    return frac, extra, y, y > 1.3


_CAR_SIDE_OUTLINES = {False: _car_side_outline(False), True: _car_side_outline(True)}
_CAR_BACK = np.array([(-0.95, 0.02), (-0.7, 0.02), (-0.7, 0.25), (0.7, 0.25), (0.7, 0.02),
                      (0.95, 0.02), (1.0, 0.3), (1.0, 1.0), (0.78, 1.42), (-0.78, 1.42),
                      (-1.0, 1.0), (-1.0, 0.3)])  # across the car (-1 to 1), height


def _car(faces: _Faces, obj: StreetObject, rs: RandomStream) -> None:
    """A car: a shadow, its side towards the middle of the road and its back (or front)."""
    length, half, tall = obj.params["length"], obj.params["width"] / 2, obj.params["tall"]
    front = obj.params["front"] > 0.5
    z0, x0 = obj.z, obj.x
    inst = faces.new_instance(CAR)
    hue, sat, val = CAR_COLOURS[rs.integer(0, len(CAR_COLOURS) - 1)]
    look = dict(x0=x0, z0=z0, length=length, half=half, tall=tall,
                body=_hsv(hue + rs.uniform(-0.03, 0.03), sat * rs.uniform(0.7, 1.1),
                          val * rs.uniform(0.8, 1.1)),
                glass=tuple(c * rs.uniform(0.8, 1.4) for c in (0.12, 0.14, 0.17)),
                lamp=(0.95, 0.92, 0.8) if front else (0.8, 0.08, 0.06))

    # Shadow on the road, slightly larger than the car.
    faces.shadows.append(faces.camera.project(
        np.array([x0 - half - 0.1, x0 + half + 0.1, x0 + half + 0.1, x0 - half - 0.1]),
        np.zeros(4), np.array([z0 - 0.1, z0 - 0.1, z0 + length, z0 + length])))

    # Side (visible unless the car is straight ahead), drawn on the plane X = side_x.
    if abs(x0) > half:
        side_x = x0 + half if x0 < 0 else x0 - half
        frac, extra, y, roof = _CAR_SIDE_OUTLINES[front]
        world = np.stack([np.full(len(frac), side_x), np.where(roof, y * tall, y),
                          z0 + frac * length + extra], 1)
        cabin = (0.3, 0.64) if front else (0.36, 0.7)
        faces.add(world, CAR, inst, CAR_SIDE, True, side_x, cabin0=cabin[0],
                  cabin1=cabin[1], **look)

    # Back (or front) at the near end, with the tyres showing below the bumper.
    back = _CAR_BACK
    height = np.where(back[:, 1] > 1.3, back[:, 1] * tall, back[:, 1])
    world = np.stack([x0 + half * back[:, 0], height, np.full(len(back), z0)], 1)
    faces.add(world, CAR, inst, CAR_BACK, False, z0, **look)


# A pedestrian's outline (metres, for a 1.75 m person): from the neck down the left arm and
# leg, up between the legs, down and up the right leg and arm, then over the head.
_PERSON = np.array(
    [(-0.07, 1.5), (-0.22, 1.45), (-0.26, 1.2), (-0.25, 0.8), (-0.18, 0.8), (-0.17, 0.9),
     (-0.15, 0.0), (-0.03, 0.0), (0.0, 0.74), (0.03, 0.0), (0.15, 0.0), (0.17, 0.9),
     (0.18, 0.8), (0.25, 0.8), (0.26, 1.2), (0.22, 1.45), (0.07, 1.5)]
    + [(0.11 * math.cos(t), 1.63 + 0.13 * math.sin(t)) for t in np.linspace(-1.0, 4.14, 9)])


def _person(faces: _Faces, obj: StreetObject, rs: RandomStream) -> None:
    """A pedestrian facing the camera, with their own clothes, skin and hair colours."""
    scale_h = obj.params["tall"] / 1.75
    scale_w = scale_h * obj.params["build"]
    world = np.stack([obj.x + _PERSON[:, 0] * scale_w, _PERSON[:, 1] * scale_h,
                      np.full(len(_PERSON), obj.z)], 1)
    faces.add(world, PERSON, faces.new_instance(PERSON), PERSON_SKIN, False, obj.z,
              x0=obj.x, scale_h=scale_h, scale_w=scale_w,
              shirt=_hsv(rs.random(), rs.uniform(0.2, 0.9), rs.uniform(0.3, 0.95)),
              trousers=_hsv(rs.random(), rs.uniform(0.0, 0.5), rs.uniform(0.12, 0.5)),
              skin=_hsv(rs.uniform(0.03, 0.09), rs.uniform(0.3, 0.6), rs.uniform(0.35, 0.95)),
              hair=_hsv(rs.uniform(0.0, 0.1), rs.uniform(0.2, 0.7), rs.uniform(0.05, 0.5)))


def _tree(faces: _Faces, obj: StreetObject, rs: RandomStream) -> None:
    """A street tree: a lumpy crown on a trunk (vegetation is "stuff": no instance id).

    The crown is a wobbly ellipse sampled anticlockwise from just right of its lowest
    point; the trunk closes the outline down to the ground.
    """
    x0, crown, trunk = obj.x, obj.params["crown"], obj.params["trunk"]
    n = 18
    angles = -math.pi / 2 + (np.arange(n) + 0.5) * (2 * math.pi / n)
    wobble = 1.0 + 0.18 * np.array([rs.uniform(-1.0, 1.0) for _ in range(n)])
    cy = trunk + crown * 0.9  # centre height of the crown
    fork = cy - 0.8 * crown  # where the trunk meets the crown
    xs = np.concatenate([[x0 + 0.14, x0 + 0.14], x0 + crown * wobble * np.cos(angles),
                         [x0 - 0.14, x0 - 0.14]])
    ys = np.concatenate([[0.0, fork], cy + 1.1 * crown * wobble * np.sin(angles), [fork, 0.0]])
    world = np.stack([xs, ys, np.full(n + 4, obj.z)], 1)
    faces.add(world, VEGETATION, VEGETATION, TREE_CROWN, False, obj.z, crown=crown, cy=cy,
              fork=cy - 0.9 * crown, phase=rs.uniform(0.0, 100.0),
              green=_hsv(rs.uniform(0.2, 0.3), rs.uniform(0.45, 0.75), rs.uniform(0.3, 0.5)),
              bark=tuple(c * rs.uniform(0.7, 1.2) for c in (0.3, 0.22, 0.16)))


def _pole(faces: _Faces, obj: StreetObject) -> None:
    """A lamp post with an arm over the road."""
    x0, top, arm = obj.x, obj.params["height"], obj.params["arm"]
    side = 0.08 if arm > 0 else -0.08  # the post's edge on the arm's side
    xs = np.array([x0 - side, x0 + side, x0 + side, x0 + arm, x0 + arm, x0 - side])
    ys = np.array([0.0, 0.0, top - 0.2, top - 0.2, top, top])
    world = np.stack([xs, ys, np.full(6, obj.z)], 1)
    faces.add(world, POLE, POLE, POLE_METAL, False, obj.z, metal=(0.35, 0.37, 0.38))


def _shade(faces: _Faces, owner: np.ndarray, a: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Colour (Q, 3) of Q pixels from their face's material.

    ``a`` is the pixel's position along its face (depth Z on a car's side, lateral X on
    faces of constant depth) and ``up`` its height above the road, both in metres.
    """
    out = np.zeros((len(owner), 3))
    material = faces.column("material").astype(np.int64)[owner]

    def of(key: str, width: int = 1) -> np.ndarray:
        return faces.column(key, width)[owner[i]]

    i = np.nonzero(material == CAR_SIDE)[0]
    if len(i):
        s, y = a[i] - of("z0"), up[i]  # metres from the car's near end, height
        length, tall = of("length"), of("tall")
        col = of("body", 3) * np.where(y > 0.9, 0.95, 0.82)[:, None]  # lit upper body
        window = (y > 1.06) & (y < 1.36 * tall) & (s > of("cabin0") * length) & \
            (s < of("cabin1") * length)
        col[window] = of("glass", 3)[window]
        for centre in WHEELS:
            d = np.hypot(s - centre * length, y - WHEEL_RADIUS)
            col[d < WHEEL_RADIUS] = 0.06  # tyre
            col[d < 0.5 * WHEEL_RADIUS] = 0.45  # rim
        out[i] = col
    i = np.nonzero(material == CAR_BACK)[0]
    if len(i):
        u, y = np.abs(a[i] - of("x0")) / of("half"), up[i]  # 0 at the middle, 1 at a side
        col = of("body", 3)
        col[y > 1.05] = of("glass", 3)[y > 1.05]
        col[y < 0.42] *= 0.45  # bumper
        col[y < 0.27] = 0.06  # tyres
        lamps = (y > 0.7) & (y < 0.9) & (u > 0.62) & (u < 0.92)
        col[lamps] = of("lamp", 3)[lamps]
        col[(y > 0.44) & (y < 0.58) & (u < 0.25)] = (0.9, 0.9, 0.86)  # number plate
        out[i] = col
    i = np.nonzero(material == PERSON_SKIN)[0]
    if len(i):
        y = up[i] / of("scale_h")  # height on a 1.75 m person
        hands = (y > 0.8) & (y < 0.95) & (np.abs(a[i] - of("x0")) > 0.17 * of("scale_w"))
        col = of("trousers", 3)
        for part, where in (("shirt", y > 0.86), ("skin", hands | (y > 1.5)),
                            ("hair", y > 1.68)):
            col[where] = of(part, 3)[where]
        col[y < 0.06] = (0.08, 0.07, 0.07)  # shoes
        out[i] = col
    i = np.nonzero(material == TREE_CROWN)[0]
    if len(i):
        y, crown = up[i], of("crown")
        light = 0.75 + 0.35 * np.clip((y - of("cy")) / crown, -1.0, 1.0)
        # Leaves: a hash of the position on the crown, one value per 10 cm square.
        cell = np.floor(a[i] * 10.0) * 12.9898 + np.floor(y * 10.0) * 78.233 + of("phase")
        leaves = 0.7 + 0.6 * ((np.sin(cell) * 43758.5453) % 1.0)
        col = of("green", 3) * (light * leaves)[:, None]
        trunk = y < of("fork")
        col[trunk] = of("bark", 3)[trunk]
        out[i] = col
    i = np.nonzero(material == POLE_METAL)[0]
    if len(i):
        out[i] = of("metal", 3)
    return out


def _draw_objects(faces: _Faces, class_map: np.ndarray, instance_map: np.ndarray,
                  photo: np.ndarray) -> None:
    """Paint all faces into the (H, W) maps and the (H, W, 3) photo, in place.

    Occlusion is the painter's algorithm done at once: where several faces cover a pixel,
    the one added last (the nearest) owns it.
    """
    height, width = class_map.shape
    cam = faces.camera
    if faces.shadows:
        pix, _ = rasterise_polygons(faces.shadows, height, width)
        shadow = np.zeros(height * width, bool)
        shadow[pix] = True
        photo.reshape(-1, 3)[shadow] *= 0.45
    if not faces.outlines:
        return
    pix, face = rasterise_polygons(faces.outlines, height, width)
    # The nearest face (the highest index) wins each pixel.
    owner = torch.full((height * width,), -1, dtype=torch.long).scatter_reduce_(
        0, torch.from_numpy(pix), torch.from_numpy(face), reduce="amax").numpy()
    q = np.nonzero(owner >= 0)[0]
    f = owner[q]
    class_map.reshape(-1)[q] = faces.column("cls").astype(np.int64)[f]
    instance_map.reshape(-1)[q] = faces.column("instance").astype(np.int64)[f]
    # Back-project each pixel onto its face's plane.
    x = (q % width + 0.5) / height - cam.cx
    y = (q // width + 0.5) / height - cam.horizon
    plane, plane_x = faces.column("plane")[f], faces.column("plane_x")[f] > 0.5
    safe_x = np.where(np.abs(x) < 1e-6, 1e-6, x)
    depth = np.where(plane_x, cam.focal * plane / safe_x, plane)
    along = np.where(plane_x, depth, x * depth / cam.focal)
    up = cam.height - y * depth / cam.focal
    photo.reshape(-1, 3)[q] = _shade(faces, f, along, up)


def _car_outline(instance_map: np.ndarray) -> np.ndarray:
    """(H, W) bool: car pixels with a 4-neighbour of another instance (any class).

    A car body is rounded, so it turns away from the light at its outline, and where two
    parked cars meet bumper to bumper the gap between them is in shadow: both show as a dark
    line one pixel wide on each side of the object's edge. Between two touching cars that
    line is the only thing in the photo besides their colours that tells them apart, and
    the semantic map does not say where it runs; the instance boundary map does
    (pix2pixHD Sec. 3.3).
    """
    m = instance_map
    edge = np.zeros(m.shape, dtype=bool)
    dx = m[:, 1:] != m[:, :-1]
    edge[:, 1:] |= dx
    edge[:, :-1] |= dx
    dy = m[1:, :] != m[:-1, :]
    edge[1:, :] |= dy
    edge[:-1, :] |= dy
    return edge & (m // INSTANCE_OFFSET == CAR)


def render_scene(camera: Camera, street: Street, objects: list[StreetObject],
                 rs: RandomStream, height: int, width: int
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render a scene: class map (H, W), instance map (H, W) and photo (3, H, W) in [-1, 1]."""
    class_map, photo = _background(camera, street, rs, height, width)
    instance_map = class_map.clone()  # stuff pixels hold their class id
    faces = _Faces(camera)
    for obj in objects:
        if camera.focal * _TALL[obj.kind] / obj.z * height < 1.0:
            continue  # under a pixel tall at this resolution: nothing to draw
        if obj.kind == "car":
            _car(faces, obj, rs)
        elif obj.kind == "person":
            _person(faces, obj, rs)
        elif obj.kind == "tree":
            _tree(faces, obj, rs)
        else:
            _pole(faces, obj)
    rgb = photo.permute(1, 2, 0).contiguous().numpy().astype(np.float64)
    # class_map and instance_map share memory with these arrays: painted in place.
    _draw_objects(faces, class_map.numpy(), instance_map.numpy(), rgb)
    rgb[_car_outline(instance_map.numpy())] *= CREASE
    photo = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)
    # Camera: exposure, white balance, vignetting and grain.
    ys, xs = pixel_grid(height, width)
    r2 = (ys - 0.5).square() + (xs - width / height / 2).square() * (height / width) ** 2
    gain = rs.uniform(0.9, 1.1) * (1 - rs.uniform(0.0, 0.4) * r2)
    balance = torch.tensor([rs.uniform(0.95, 1.05) for _ in range(3)]).view(3, 1, 1)
    grain = rs.uniform(0.01, 0.03) * 3.4 * (torch.rand(1, height, width,
                                                       generator=rs.generator) - 0.5)
    return class_map, instance_map, to_signed(photo * gain * balance + grain)


# --------------------------------------------------------------------------- the dataset


class SyntheticStreets(SyntheticPairs):
    """Street scenes, 2:1: label map + instance map -> photo (see module docstring).

    ``image_size`` is the height (the width is twice that) or a ``(height, width)`` pair.
    ``ds[i]`` returns ``"A"`` (3, H, W) the colour-coded label image, ``"B"`` (3, H, W) the
    photo, ``"class_map"`` and ``"instance_map"`` (int64 (H, W)) and ``"index"``.
    """

    dataset_name: ClassVar[str] = "streets"
    class_names: ClassVar[tuple[str, ...]] = CLASS_NAMES
    palette: ClassVar[tuple[tuple[int, int, int], ...]] = PALETTE
    aspect: ClassVar[int] = 2
    thing_classes: ClassVar[tuple[int, ...]] = THING_CLASSES

    def scene(self, index: int) -> tuple[Camera, Street, list[StreetObject]]:
        """The 3-D scene of sample ``index`` (camera, street, objects far to near)."""
        index = self._check_index(index)
        return street_scene(self.stream(index, "layout"), self.width / self.height)

    def make_sample(self, index: int) -> dict[str, Any]:
        camera, street, objects = self.scene(index)
        class_map, instance_map, photo = render_scene(
            camera, street, objects, self.stream(index, "photo"), self.height, self.width)
        return {"A": self.colorize(class_map), "B": photo, "class_map": class_map,
                "instance_map": instance_map, "index": index}
