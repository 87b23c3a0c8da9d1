"""CRD in MMRazor's layout: CRDConnector embeddings, the model's own inputs recorded with
``ModuleInputs`` on source ``''`` (``data_idx=1``: the data samples), CRDLoss indexing its
memory banks by the samples' ``sample_idx`` / ``contrast_sample_idxs``."""
from __future__ import annotations

import torch

from razor_ext.distill.connectors import CRDConnector
from razor_ext.registry import MODELS


def test_connector_is_linear_then_l2_normalised():
    torch.manual_seed(0)
    c = CRDConnector(dim_in=8, dim_out=4)
    x = torch.randn(3, 8, 1, 1)
    y = c(x)
    ref = c.linear(x.flatten(1))
    torch.testing.assert_close(y, ref / ref.norm(dim=1, keepdim=True))


def classifier(width: int) -> dict:
    return dict(type='mmcls.ImageClassifier',
                backbone=dict(type='mmcls.ResNet_CIFAR', depth=18, num_stages=1, out_indices=(0,),
                              base_channels=width),
                neck=dict(type='mmcls.GlobalAveragePooling'),
                head=dict(type='mmcls.LinearClsHead', num_classes=10, in_channels=width))


def test_crd_distill_reads_sample_indices_from_the_recorded_data_samples():
    torch.manual_seed(0)
    algo = MODELS.build(dict(
        _scope_='mmrazor', type='SingleTeacherDistill', architecture=classifier(64),
        teacher=classifier(64),
        distiller=dict(
            type='ConfigurableDistiller',
            student_recorders=dict(neck=dict(type='ModuleOutputs', source='neck.gap'),
                                   data_samples=dict(type='ModuleInputs', source='')),
            teacher_recorders=dict(neck=dict(type='ModuleOutputs', source='neck.gap')),
            distill_losses=dict(loss_crd=dict(type='CRDLoss', loss_weight=0.8, neg_num=5,
                                              sample_n=20, dim_out=16)),
            connectors=dict(s=dict(type='CRDConnector', dim_in=64, dim_out=16),
                            t=dict(type='CRDConnector', dim_in=64, dim_out=16)),
            loss_forward_mappings=dict(loss_crd=dict(
                s_feats=dict(from_student=True, recorder='neck', connector='s'),
                t_feats=dict(from_student=False, recorder='neck', connector='t'),
                data_samples=dict(from_student=True, recorder='data_samples', data_idx=1))))))
    memory = algo.distiller.distill_losses['loss_crd'].contrast
    before = memory.memory_v1.clone()
    samples = [{'gt_label': torch.tensor([c]), 'sample_idx': torch.tensor(i),
                'contrast_sample_idxs': torch.tensor([i, 0, 1, 2, 3, 4])}
               for c, i in ((1, 7), (2, 12))]
    opt = torch.optim.SGD(algo.parameters(), lr=0.01)
    log = algo.train_step({'inputs': torch.randn(2, 3, 16, 16), 'data_samples': samples}, opt)
    assert log['distill.loss_crd'] > 0
    changed = (memory.memory_v1 != before).any(1).nonzero().flatten().tolist()
    assert changed == [7, 12]  # the banks move only at the batch's own sample indices
    assert torch.allclose(memory.memory_v1[[7, 12]].norm(dim=1), torch.ones(2))
