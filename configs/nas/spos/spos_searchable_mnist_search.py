# Evolution search on a trained SPOS supernet (MMRazor's switch: train_cfg replaced by the loop).
# razor-ext search razor_ext::nas/spos/spos_searchable_mnist_search.py --cfg-options load_from=work_dirs/spos_searchable_mnist_supernet/last.pth
_base_ = ['./spos_searchable_mnist_supernet.py']
train_cfg = dict(_delete_=True, type='EvolutionSearchLoop', max_epochs=2,
                 num_candidates=8, top_k=4, num_mutation=2, num_crossover=2,
                 constraints_range=dict(flops=(0, 1.5)), score_key='accuracy/top1',
                 estimator_cfg=dict(type='ResourceEstimator', input_shape=(1, 1, 28, 28), units='M'))
