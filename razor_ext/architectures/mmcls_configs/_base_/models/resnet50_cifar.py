# ResNet-50 for CIFAR-10 (3x3 stem, no max-pool): linear head (2048 -> 10).
model = dict(
    type='mmcls.ImageClassifier',
    backbone=dict(type='mmcls.ResNet_CIFAR', depth=50, num_stages=4, out_indices=(3, ),
                  style='pytorch'),
    neck=dict(type='mmcls.GlobalAveragePooling'),
    head=dict(type='mmcls.LinearClsHead', num_classes=10, in_channels=2048,
              loss=dict(type='mmcls.CrossEntropyLoss', loss_weight=1.0)))
