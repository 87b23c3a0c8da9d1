# The searched SPOS ShuffleNetV2 subnet as a static model (MMRazor's `sub_model` entry), wrapped
# in a BaseAlgorithm so that razor-ext's runner trains / evaluates it.
# fix_subnet: a dict, or a YAML / JSON file in MMRazor's subnet format (e.g. MMRazor's
# configs/nas/mmcls/spos/SPOS_SUBNET.yaml, or your own search result). The dict below is a
# random subnet exported with razor_ext.supernet.fix_subnet.export_fix_subnet (an example, not a search
# result).
import os.path as osp
import runpy

supernet = runpy.run_path(osp.join(osp.dirname(__file__),
                                   'spos_shufflenet_supernet_8xb128_in1k.py'))['supernet']

fix_subnet = {
    'backbone.layers.0.0': dict(chosen='shuffle_3x3'),
    'backbone.layers.0.1': dict(chosen='shuffle_7x7'),
    'backbone.layers.0.2': dict(chosen='shuffle_3x3'),
    'backbone.layers.0.3': dict(chosen='shuffle_5x5'),
    'backbone.layers.1.0': dict(chosen='shuffle_xception'),
    'backbone.layers.1.1': dict(chosen='shuffle_xception'),
    'backbone.layers.1.2': dict(chosen='shuffle_xception'),
    'backbone.layers.1.3': dict(chosen='shuffle_5x5'),
    'backbone.layers.2.0': dict(chosen='shuffle_3x3'),
    'backbone.layers.2.1': dict(chosen='shuffle_3x3'),
    'backbone.layers.2.2': dict(chosen='shuffle_3x3'),
    'backbone.layers.2.3': dict(chosen='shuffle_7x7'),
    'backbone.layers.2.4': dict(chosen='shuffle_3x3'),
    'backbone.layers.2.5': dict(chosen='shuffle_xception'),
    'backbone.layers.2.6': dict(chosen='shuffle_3x3'),
    'backbone.layers.2.7': dict(chosen='shuffle_xception'),
    'backbone.layers.3.0': dict(chosen='shuffle_7x7'),
    'backbone.layers.3.1': dict(chosen='shuffle_5x5'),
    'backbone.layers.3.2': dict(chosen='shuffle_xception'),
    'backbone.layers.3.3': dict(chosen='shuffle_7x7')}

model = dict(
    type='BaseAlgorithm',
    architecture=dict(_scope_='mmrazor', type='sub_model', cfg=supernet, fix_subnet=fix_subnet))
example_input_shape = (4, 3, 32, 32)
