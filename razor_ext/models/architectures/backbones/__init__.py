from razor_ext.models.architectures.backbones.darts_backbone import DartsBackbone  # noqa: F401
