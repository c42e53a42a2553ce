"""Generator and discriminator modules.

Every generator is called as ``generator(z, train=...)`` and returns samples;
every discriminator as ``discriminator(x, train=...)`` and returns one logit per
example, shape ``[batch]``. Modules with BatchNorm keep their running statistics
in the ``batch_stats`` collection; the train step threads it.
"""

from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator"]
