# DeiT-Base trained from scratch on ImageNet-1k: ViT-B/16 (12 layers, 768 wide, 12 heads) with
# stochastic depth 0.1, a label-smoothed linear head on the class token, Mixup 0.8 / CutMix 1.0.
_base_ = ['../_base_/datasets/imagenet_bs64_pil_resize.py',
          '../_base_/schedules/imagenet_bs1024_adamw_swin.py', '../_base_/default_runtime.py']
model = dict(
    type='mmcls.ImageClassifier',
    backbone=dict(type='mmcls.VisionTransformer', arch='deit-base', img_size=224, patch_size=16,
                  drop_path_rate=0.1),
    neck=None,
    head=dict(type='mmcls.VisionTransformerClsHead', num_classes=1000, in_channels=768,
              loss=dict(type='mmcls.LabelSmoothLoss', label_smooth_val=0.1, mode='original')),
    init_cfg=[dict(type='TruncNormal', layer='Linear', std=.02),
              dict(type='Constant', layer='LayerNorm', val=1., bias=0.)],
    train_cfg=dict(augments=[dict(type='Mixup', alpha=0.8), dict(type='CutMix', alpha=1.0)]))
train_dataloader = dict(batch_size=64)
