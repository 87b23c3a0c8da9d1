"""``DMCPSubnetHook``: after a DMCP run, sample subnets from the learnt Markov chains near the
FLOPs target and write them as channel-mutator files (``sub_model(mode='mutator')`` reads them)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from razor_ext.fileio import atomic_write_text
from razor_ext.registry import HOOKS


def dmcp_subnet_config(mutator: Any) -> dict[str, Any]:
    """The current widths of a :class:`DMCPChannelMutator` as MMRazor's mutator file."""
    cfg = mutator.channels.config_template()
    cfg['type'] = 'DMCPChannelMutator'
    unit_cfg = cfg['channel_unit_cfg']
    unit_cfg['type'] = 'DMCPChannelUnit'
    unit_cfg['default_args'] = {'choice_mode': 'number'}
    for unit in mutator.units:
        entry = unit_cfg['units'][unit.name]
        entry['init_args']['choice_mode'] = 'number'
        entry['choice'] = unit.unit.divisor * int(unit.kept.sum())
    return cfg


@HOOKS.register_module()
class DMCPSubnetHook:
    """After the run, write ``subnet_1.json`` ... ``subnet_<n>.json`` (``'direct'`` samples of the
    Markov chains whose FLOPs are within 5% of ``target_flops``) and ``excepted_ch.json`` (the
    expected widths, rounded; MMRazor's file name) under ``<work_dir>/model_sample``.

    Args:
        subnet_sample_num: direct samples to write. max_tries: draws per sample before the
            closest one is written with a warning (MMRazor draws until one fits).
    """

    priority = 90  # MMEngine's 'VERY_LOW'
    rank_zero_only = True

    def __init__(self, subnet_sample_num: int = 10, max_tries: int = 1000, **kwargs: Any) -> None:
        self.subnet_sample_num, self.max_tries = subnet_sample_num, max_tries

    def _sample_near_target(self, model: Any) -> float:
        target = model.target_flops * 1e6
        best = None
        for _ in range(self.max_tries):
            model.set_subnet('direct', arch_train=False)
            flops = model.mutator.current_flops()
            if 0.95 * target <= flops <= 1.05 * target:
                return flops
            if best is None or abs(flops - target) < abs(best[0] - target):
                best = (flops, dict(model.mutator.current_choices))
        warnings.warn(f'DMCPSubnetHook: no direct sample within 5% of {target / 1e6:.1f} MFLOPs '
                      f'in {self.max_tries} draws; writing the closest ({best[0] / 1e6:.1f})',
                      stacklevel=2)
        model.mutator.set_choices(best[1])
        return best[0]

    def after_run(self, runner: Any, **kwargs: Any) -> None:
        model = getattr(runner.model, 'module', runner.model)
        root = Path(runner.work_dir) / 'model_sample'
        root.mkdir(parents=True, exist_ok=True)
        for i in range(self.subnet_sample_num):
            self._sample_near_target(model)
            atomic_write_text(root / f'subnet_{i + 1}.json',
                              json.dumps(dmcp_subnet_config(model.mutator), indent=4))
        expected = model.mutator.sample_subnet('expected', False)
        widths = {name: max(1, round(float(c.detach()) if hasattr(c, 'detach') else c))
                  for name, c in expected.items()}
        model.mutator.set_choices(widths)
        atomic_write_text(root / 'excepted_ch.json',
                          json.dumps(dmcp_subnet_config(model.mutator), indent=4))


__all__ = ['DMCPSubnetHook', 'dmcp_subnet_config']
