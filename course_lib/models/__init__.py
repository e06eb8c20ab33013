"""Generators and discriminators of pix2pix, pix2pixHD and BicycleGAN.

pix2pix (Isola et al., CVPR 2017): :class:`UNetGenerator` (Appendix 6.1.1),
:class:`PatchDiscriminator`, :class:`PixelDiscriminator` and :class:`ImageDiscriminator`
(Sec. 3.2.2 and 4.4), their receptive fields, N(0, 0.02) initialization and the explicit
test-time behaviour (:func:`set_test_mode`, Sec. 3.3).

BicycleGAN (Zhu et al., NeurIPS 2017): :class:`LatentEncoder` (E), :class:`LatentUNetGenerator`
(G(A, z), z added to the input or to every level) and :class:`BicycleDiscriminator`.

pix2pixHD (Wang et al., CVPR 2018): :class:`GlobalGenerator` (G1), :class:`LocalEnhancer`
(G2 around G1), :class:`MultiscaleDiscriminator` (Sec. 3.2), :func:`instance_boundaries`,
:class:`InstanceEncoder` with :func:`instance_average_pool` (Sec. 3.3-3.4) and the per-class
feature clusters (:class:`FeatureClusters`).
"""
from course_lib.models.bicyclegan import (BicycleDiscriminator, LatentEncoder,
                                           LatentUNetGenerator, reparameterize)
from course_lib.models.clusters import (FeatureClusters, InstanceFeatures,
                                        collect_instance_features, kmeans)
from course_lib.models.init import init_weights
from course_lib.models.instance import (InstanceEncoder, discriminator_labels, generator_input,
                                        instance_average_pool, instance_boundaries, one_hot)
from course_lib.models.norm import conv_bias, make_norm
from course_lib.models.pix2pixhd import (GlobalGenerator, LocalEnhancer,
                                         MultiscaleDiscriminator, max_num_D)
from course_lib.models.patchgan import (ImageDiscriminator, PatchDiscriminator,
                                        PixelDiscriminator, patch_receptive_field)
from course_lib.models.receptive_field import (EmpiricalField, ReceptiveField,
                                               empirical_receptive_field, plot_receptive_field,
                                               receptive_field)
from course_lib.models.unet import (UNetBlock, UNetGenerator, at_test_time, check_unet_size,
                                    set_test_mode, valid_unet_sizes)

__all__ = [
    "UNetGenerator", "UNetBlock", "check_unet_size", "valid_unet_sizes", "set_test_mode",
    "at_test_time",
    "PatchDiscriminator", "PixelDiscriminator", "ImageDiscriminator", "patch_receptive_field",
    "receptive_field", "empirical_receptive_field", "plot_receptive_field", "ReceptiveField",
    "EmpiricalField",
    "init_weights", "make_norm", "conv_bias",
]
__all__ += ["LatentEncoder", "LatentUNetGenerator", "BicycleDiscriminator", "reparameterize"]
__all__ += ["GlobalGenerator", "LocalEnhancer", "MultiscaleDiscriminator", "max_num_D",
            "InstanceEncoder", "instance_boundaries", "instance_average_pool", "one_hot",
            "generator_input", "discriminator_labels", "FeatureClusters", "InstanceFeatures",
            "collect_instance_features", "kmeans"]
