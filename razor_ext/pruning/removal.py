"""Physical removal: gather the kept channels of every coupled tensor, then fix the modules'
size attributes so the model's own code (reshapes to heads, KV caches) keeps working."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from razor_ext.ops import channel_gather
from razor_ext.ops.huge_pages import advise_huge_pages
from razor_ext.pruning.attention import adapt_attention
from razor_ext.pruning.threaded import map_in_threads

# Kept indices per tensor: state-dict name -> [(dim, kept indices)]
Plan = Mapping[str, Sequence[tuple[int, np.ndarray]]]
# (module path, attribute, new value); path '' is the model, 'config' entries name model.config
AttrChange = tuple[str, str, Any]

_HEAD_ATTRS = ('num_heads', 'n_heads', 'num_attention_heads', 'n_head', 'heads')
_KV_ATTRS = ('num_key_value_heads', 'n_kv_heads', 'num_kv_heads', 'n_kv_head')
_Q_NAMES = ('q_proj', 'q', 'query', 'wq', 'to_q', 'qkv', 'c_attn', 'in_proj')
_K_NAMES = ('k_proj', 'k', 'key', 'wk', 'to_k', 'kv')
_FUSED_GATE_UP = ('gate_up_proj', 'w12')


def gather_state(model: nn.Module, plan: Plan) -> None:
    """Replace every planned parameter/buffer of ``model`` by its kept channels, batching the
    tensors that share an index into one :func:`channel_gather` call."""
    current: dict[str, Tensor] = {}
    params = dict(model.named_parameters())
    buffers = {n: b for n, b in model.named_buffers() if b is not None}
    for key in plan:
        src = params.get(key, buffers.get(key))
        if src is None:
            raise KeyError(f'pruning plan names {key!r}, which the model does not have')
        current[key] = src.detach()
    # Lowest dim first: the first gather then copies whole kept rows (an LLM projection's
    # output rows) and the second, element by element, reads only those: 0.36x the CPU time
    # of a clone for a Llama layer's linears, against 0.62x the other way round.
    plan = {k: sorted(v, key=lambda p: p[0]) for k, v in plan.items()}
    blocked = []
    for key, dims in list(plan.items()):
        if _blocked_fits(current[key], dims):
            blocked.append((key, current[key], dims[0][1], dims[1][1]))
            del plan[key]
            continue
        merged = _merged_gather(current[key], dims)
        if merged is not None:
            current[key] = merged
            del plan[key]
    current.update(_gather_blocked(blocked))
    rounds = max((len(v) for v in plan.values()), default=0)
    for r in range(rounds):
        batches: dict[bytes, list[tuple[str, int]]] = {}
        index_of: dict[bytes, np.ndarray] = {}
        for key, dims in plan.items():
            if r < len(dims):
                dim, keep = dims[r]
                tag = keep.tobytes()
                batches.setdefault(tag, []).append((key, dim))
                index_of[tag] = keep
        for tag, members in batches.items():
            index = torch.from_numpy(np.ascontiguousarray(index_of[tag], np.int64))
            outs = channel_gather([current[k] for k, _ in members], index, [d for _, d in members])
            for (k, _), o in zip(members, outs):
                current[k] = o
    replaced: dict[int, Tensor] = {}
    for key, new in current.items():
        old = params.get(key)
        if old is not None:
            replaced[id(old)] = nn.Parameter(new, requires_grad=old.requires_grad)
        else:
            replaced[id(buffers[key])] = new
    # Tied weights are one Parameter held by several modules: replace it everywhere.
    for m in model.modules():
        for n, p in list(m._parameters.items()):
            if p is not None and id(p) in replaced:
                m._parameters[n] = replaced[id(p)]
        for n, b in list(m._buffers.items()):
            if b is not None and id(b) in replaced:
                m._buffers[n] = replaced[id(b)]


# Linear weights this large are cut block by block: an LLM's projections.
_BLOCKED_NUMEL = 1 << 20
_BLOCK_BYTES = 1 << 20


def _blocked_gather(t: Tensor, rows: np.ndarray, cols: np.ndarray) -> Tensor:
    """``t[rows][:, cols]`` written straight into the one new tensor, a block of kept rows at a
    time. Gathering whole dims one after the other would allocate a half-pruned copy of the
    weight first: fresh memory, whose page faults cost more than the copying (a clone of a
    weight is mostly page faults); a block is small and its memory is reused."""
    r = torch.from_numpy(np.ascontiguousarray(rows, np.int64)).to(t.device)
    c = torch.from_numpy(np.ascontiguousarray(cols, np.int64)).to(t.device)
    out = torch.empty((len(r), len(c), *t.shape[2:]), dtype=t.dtype, device=t.device)
    advise_huge_pages(out)  # before its first write: see razor_ext.ops.huge_pages
    step = max(1, _BLOCK_BYTES // max(1, t[0].numel() * t.element_size()))
    # The registered op straight to its kernel (nothing to record, indices are in range): its
    # Python wrapper and autograd layer would cost more than the copies of a block.
    gather = torch.ops.razor_ext.channel_gather
    with torch.no_grad(), torch._C._AutoDispatchBelowAutograd():
        for i in range(0, len(r), step):
            (block,) = gather([t], r[i:i + step], [0])
            # into the new tensor's rows: no second block and copy
            torch.index_select(block, 1, c, out=out[i:i + step])
    return out


def _blocked_fits(t: Tensor, dims: Sequence[tuple[int, np.ndarray]]) -> bool:
    """A large contiguous linear weight whose dims 0 and 1 both shrink (convs, even 1x1,
    keep the batched gathers measured on the CNN benchmarks)."""
    if len(dims) != 2 or t.dim() != 2 or not t.is_contiguous() or t.numel() < _BLOCKED_NUMEL:
        return False
    return [d for d, _ in dims] == [0, 1]


def _gather_blocked(items: list[tuple[str, Tensor, np.ndarray, np.ndarray]]
                    ) -> dict[str, Tensor]:
    """:func:`_blocked_gather` of every item, shared among Python threads (one OpenMP region
    per block would cost a barrier per block: see :mod:`razor_ext.pruning.threaded`)."""
    if any(t.device.type != 'cpu' for _, t, _, _ in items):
        return {k: _blocked_gather(t, r, c) for k, t, r, c in items}
    outs = map_in_threads(lambda item: _blocked_gather(*item[1:]), items,
                          [t.numel() for _, t, _, _ in items])
    return {k: o for (k, _, _, _), o in zip(items, outs)}


def _merged_gather(t: Tensor, dims: Sequence[tuple[int, np.ndarray]]) -> Tensor | None:
    """Both channel dims of a weight pruned (conv/linear in and out): one gather of the kept
    (out, in) pairs over the merged dims, so only the kept bytes move, instead of a gather
    per dim that writes and rereads the half-pruned tensor in between."""
    if len(dims) != 2 or not t.is_contiguous():
        return None
    (d0, k0), (d1, k1) = sorted(dims, key=lambda p: p[0])
    inner_bytes = t[0, 0].numel() * t.element_size() if t.dim() >= 2 else 0
    if d1 != d0 + 1 or d0 != 0:
        return None
    if inner_bytes < 16 and t.dim() == 2 and t.numel() >= _BLOCKED_NUMEL:
        return _blocked_gather(t, k0, k1)
    if inner_bytes < 16:
        # Rows shorter than 16 bytes (1x1 convs, small linears) copy faster as two row gathers.
        return None
    c0, c1 = t.shape[d0], t.shape[d1]
    flat = (np.asarray(k0, np.int64)[:, None] * c1 + np.asarray(k1, np.int64)[None, :]).reshape(-1)
    merged = t.reshape(*t.shape[:d0], c0 * c1, *t.shape[d1 + 1:])
    (out,) = channel_gather([merged], torch.from_numpy(flat), [d0])
    return out.view(*t.shape[:d0], len(k0), len(k1), *t.shape[d1 + 1:])


def _layer_changes(name: str, m: nn.Module) -> list[AttrChange]:
    out: list[AttrChange] = []

    def put(attr: str, value: Any) -> None:
        if getattr(m, attr, None) != value:
            out.append((name, attr, value))

    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
        w = m.weight
        depthwise = m.groups > 1 and m.groups == m.in_channels
        put('out_channels', w.shape[0])
        if depthwise:
            put('in_channels', w.shape[0] // (m.out_channels // m.in_channels))
            put('groups', w.shape[0] // (m.out_channels // m.in_channels))
        else:
            put('in_channels', w.shape[1] * m.groups)
    elif isinstance(m, (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        put('in_channels', m.weight.shape[0])
        put('out_channels', m.weight.shape[1] * m.groups)
    elif isinstance(m, nn.Linear):
        put('in_features', m.weight.shape[1])
        put('out_features', m.weight.shape[0])
    elif isinstance(m, nn.modules.batchnorm._NormBase):
        t = m.weight if m.weight is not None else m.running_mean
        if t is not None:
            put('num_features', t.shape[0])
    elif isinstance(m, (nn.LayerNorm, nn.RMSNorm)) and m.weight is not None:
        put('normalized_shape', tuple(m.weight.shape))
    elif isinstance(m, nn.GroupNorm) and m.weight is not None:
        put('num_channels', m.weight.shape[0])
    elif isinstance(m, nn.Embedding):
        put('embedding_dim', m.weight.shape[1])
    elif _is_conv1d(m):
        # GPT-2's Conv1D: a linear layer whose weight is stored [in, out]
        put('nx', m.weight.shape[0])
        put('nf', m.weight.shape[1])
    elif isinstance(m, nn.MultiheadAttention):
        # Whole heads go (head_dim stays); embed_dim is the query / output width.
        put('embed_dim', m.out_proj.weight.shape[0])
        put('num_heads', m.out_proj.weight.shape[1] // m.head_dim)
        packed = m.in_proj_weight is not None
        put('kdim', (m.in_proj_weight if packed else m.k_proj_weight).shape[1])
        put('vdim', (m.in_proj_weight if packed else m.v_proj_weight).shape[1])
    return out


def _is_conv1d(m: nn.Module) -> bool:
    w = getattr(m, 'weight', None)
    return (isinstance(getattr(m, 'nf', None), int) and isinstance(getattr(m, 'nx', None), int)
            and isinstance(w, Tensor) and w.dim() == 2)


def out_widths(model: nn.Module) -> dict[str, int]:
    """Output width of every linear layer (``nn.Linear`` and GPT-2-style ``Conv1D``)."""
    return {n: m.out_features if isinstance(m, nn.Linear) else m.weight.shape[1]
            for n, m in model.named_modules() if isinstance(m, nn.Linear) or _is_conv1d(m)}


def _heads_changes(name: str, m: nn.Module, old_out: dict[str, int]) -> list[AttrChange]:
    """Head counts of an attention module from how much its q / k projections shrank."""
    out: list[AttrChange] = []
    for attrs, children in ((_HEAD_ATTRS, _Q_NAMES), (_KV_ATTRS, _K_NAMES)):
        for attr in attrs:
            value = getattr(m, attr, None)
            if not isinstance(value, int) or isinstance(value, bool):
                continue
            for child in children:
                full = f'{name}.{child}' if name else child
                lin = getattr(m, child, None)
                if isinstance(lin, nn.Module) and full in old_out:
                    width = lin.out_features if isinstance(lin, nn.Linear) else lin.weight.shape[1]
                    new = value * width // old_out[full]
                    if new != value:
                        out.append((name, attr, new))
                    break
    return out


def update_attributes(model: nn.Module, old_out: dict[str, int],
                      traced: Sequence[AttrChange] = ()) -> list[AttrChange]:
    """Set the size attributes of every module to its new weights; returns the changes made.

    ``old_out``: :func:`out_widths` before pruning (to scale head counts);
    ``traced``: the changes of the size attributes the channel analysis bound to pruned dims
    (applied last: the trace saw the model's code read them).
    """
    changes: list[AttrChange] = []
    for name, m in model.named_modules():
        changes += _layer_changes(name, m)
    apply_changes(model, changes)
    heads: list[AttrChange] = []
    for name, m in model.named_modules():
        heads += _heads_changes(name, m, old_out)
    apply_changes(model, heads)
    changes += heads
    config = _config_changes(model, heads, changes)
    apply_changes(model, config)
    apply_changes(model, traced)
    adapt_attention(model)
    return changes + config + list(traced)


def _width_head_counts(model: nn.Module) -> dict[str, set]:
    """Head counts of every attention module that keeps ``head_dim`` as an attribute but no head
    count (Hugging Face attention reshapes with -1), from its q / k projection widths."""
    out: dict[str, set] = {}
    widths = out_widths(model)
    for name, m in model.named_modules():
        hd = getattr(m, 'head_dim', None)
        if not isinstance(hd, int) or isinstance(hd, bool) or hd <= 0:
            continue
        for key, children in (('num_attention_heads', _Q_NAMES), ('num_key_value_heads',
                                                                   _K_NAMES)):
            for child in children:
                full = f'{name}.{child}' if name else child
                if full in widths and child not in ('qkv', 'c_attn', 'in_proj', 'kv'):
                    out.setdefault(key, set()).add(widths[full] // hd)
                    break
    return out


def _config_changes(model: nn.Module, heads: list[AttrChange],
                    layers: list[AttrChange]) -> list[AttrChange]:
    cfg = getattr(model, 'config', None)
    if cfg is None or isinstance(cfg, (dict, nn.Module)):
        return []
    wanted: dict[str, set] = _width_head_counts(model)
    for _, attr, value in heads:
        key = 'num_key_value_heads' if attr in _KV_ATTRS else 'num_attention_heads'
        wanted.setdefault(key, set()).add(value)
    for path, attr, value in layers:
        if attr == 'embedding_dim':
            wanted.setdefault('hidden_size', set()).add(value)
        if attr in ('out_features', 'nf') and (path.rsplit('.', 1)[-1] in (
                'up_proj', 'gate_proj', 'w1', 'fc1', 'c_fc') or path.endswith('intermediate.dense')):
            wanted.setdefault('intermediate_size', set()).add(value)
        if attr == 'out_features' and path.rsplit('.', 1)[-1] in _FUSED_GATE_UP:
            # gate and up in one layer, cut in two halves by the forward (Phi-3)
            wanted.setdefault('intermediate_size', set()).add(value // 2)
    out = []
    for key, values in wanted.items():
        aliases = {'num_attention_heads': ('num_attention_heads', 'num_heads', 'n_heads'),
                   'num_key_value_heads': ('num_key_value_heads', 'n_kv_heads'),
                   'hidden_size': ('hidden_size', 'dim', 'n_embd'),
                   'intermediate_size': ('intermediate_size', 'n_inner', 'ffn_dim')}[key]
        for alias in aliases:
            if hasattr(cfg, alias) and len(values) == 1:
                # Per-layer sizes that differ cannot be one config value; layers keep theirs.
                out.append(('config', alias, next(iter(values))))
    return out


def apply_changes(model: nn.Module, changes: Sequence[AttrChange]) -> None:
    """Set each ``(module path, attribute, value)``; path ``'config'`` is ``model.config``."""
    for path, attr, value in changes:
        if path == 'config' and not isinstance(getattr(model, 'config', None), nn.Module):
            target = model.config
        else:
            target = model.get_submodule(path) if path else model
        if isinstance(value, list):
            value = tuple(value)
        setattr(target, attr, value)
