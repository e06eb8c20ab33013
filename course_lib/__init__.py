"""course_lib: the reference implementation behind the image-to-image translation course.

It builds pix2pix (Isola et al., CVPR 2017), pix2pixHD (Wang et al., CVPR 2018) and
BicycleGAN (Zhu et al., NeurIPS 2017) from their components. Notebooks start with::

    import course_lib
    P = course_lib.setup()          # profile, device and seeds

Sub-packages: ``data`` (datasets), ``models``, ``losses``, ``train``, ``metrics``, ``viz``,
``widgets`` and ``exercises``.
"""
__version__ = "0.1.0"     # before the imports: course_lib.session reads it

from course_lib.profiles import PROFILES, Profile, get_profile, seed_everything  # noqa: E402
from course_lib.session import setup  # noqa: E402

__all__ = ["PROFILES", "Profile", "get_profile", "seed_everything", "setup", "__version__"]
