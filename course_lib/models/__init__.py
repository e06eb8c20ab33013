"""Generators and discriminators of pix2pix, pix2pixHD and BicycleGAN."""
