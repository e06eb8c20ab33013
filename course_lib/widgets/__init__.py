"""Interactive ipywidgets tools of the notebooks, each with a non-interactive fallback.

* ``latent`` -- BicycleGAN's latent explorer (Zhu et al. 2017): sliders over z, a grid of
  samples, interpolation between two codes (notebook 06).
* ``instance_editor`` -- pix2pixHD's instance feature editor (Wang et al. 2018, Sec. 3.4):
  pick an object and a feature cluster, see the scene re-rendered (notebook 05).

When ipywidgets or a live kernel front end is missing (nbval, scripts), each tool draws a
static matplotlib figure of the same content instead, so every notebook still runs.

Both work with ipywidgets 7.x and 8.x; on Colab with ipywidgets 8, :mod:`.frontend` turns on
Colab's custom widget manager first (Colab shows ipywidgets 7 without it).
"""
