# CIFAR-10 (python pickle batches under data/cifar10), 16 images per GPU: 4-pixel padded random
# 32x32 crops and horizontal flips; per-channel statistics of the CIFAR-10 training set.
dataset_type = 'CIFAR10'
data_preprocessor = dict(num_classes=10, mean=[125.307, 122.961, 113.8575],
                         std=[51.5865, 50.847, 51.255], to_rgb=False)
train_pipeline = [
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackClsInputs'),
]
test_pipeline = [dict(type='PackClsInputs')]
train_dataloader = dict(
    batch_size=16, num_workers=2,
    dataset=dict(type=dataset_type, data_prefix='data/cifar10', test_mode=False,
                 pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=16, num_workers=2,
    dataset=dict(type=dataset_type, data_prefix='data/cifar10', test_mode=True,
                 pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
