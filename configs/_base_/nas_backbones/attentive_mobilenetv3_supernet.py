# BigNAS / AttentiveNAS MobileNetV3 search space (MMRazor's numbers): rows are
# [min, max, step] per stage; expand_ratio has an extra row for the last layer, num_out_channels
# rows for the first conv, the 7 stages and the last layer.
arch_setting = dict(
    kernel_size=[[3, 5, 2]] * 7,
    num_blocks=[[1, 2, 1], [3, 5, 1], [3, 6, 1], [3, 6, 1], [3, 8, 1], [3, 8, 1], [1, 2, 1]],
    expand_ratio=[[1, 1, 1], [4, 6, 1], [4, 6, 1], [4, 6, 1], [4, 6, 1], [6, 6, 1], [6, 6, 1],
                  [6, 6, 1]],
    num_out_channels=[[16, 24, 8], [16, 24, 8], [24, 32, 8], [32, 40, 8], [64, 72, 8],
                      [112, 128, 8], [192, 216, 8], [216, 224, 8], [1792, 1984, 192]])

nas_backbone = dict(
    type='mmrazor.AttentiveMobileNetV3',
    arch_setting=arch_setting,
    norm_cfg=dict(type='DynamicBatchNorm2d', momentum=0.0))
