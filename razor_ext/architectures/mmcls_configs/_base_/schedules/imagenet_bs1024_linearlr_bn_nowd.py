# ShuffleNet's schedule: SGD 0.5 for a total batch of 1024, no weight decay on norm layers,
# 5 warm-up epochs from a quarter of the rate, then linear decay to zero over 300 epochs.
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.5, momentum=0.9, weight_decay=0.00004),
                     paramwise_cfg=dict(norm_decay_mult=0))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.25, by_epoch=True, begin=0, end=5),
    dict(type='LinearLR', start_factor=1.0, end_factor=0.0, by_epoch=True, begin=5, end=300),
]
train_cfg = dict(by_epoch=True, max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(base_batch_size=1024)
