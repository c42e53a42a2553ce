"""Generator and discriminator modules.

Every generator is called as ``generator(z, train=...)`` and returns samples;
every discriminator as ``discriminator(x, train=...)`` and returns one logit per
example, shape ``[batch]``. Built with ``num_classes > 0`` they are
class-conditional and take labels after their input: ``generator(z, labels,
train=...)``, ``discriminator(x, labels, train=...)`` (see
:mod:`jaxgan.models.conditioning`). Modules with BatchNorm keep their running statistics
in the ``batch_stats`` collection; the train step threads it.
"""

from jaxgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jaxgan.models.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator"]
