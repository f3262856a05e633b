"""Built-in tasks: ground-truth Gaussians, a Gaussian channel, and networks on finite input sets."""
