"""Channel rules of layers: matmul, linear, conv, norms, embedding and attention.

A mixin of :class:`~razor_ext.analysis.propagation.Propagator`: a layer's weight couples the
channels of its input and output dims, so these rules unify the input's labels with the weight's
atoms (registered as positions to gather when pruning).
"""
from __future__ import annotations

import inspect

import numpy as np
import torch
from torch import Tensor

from razor_ext.analysis.atoms import Product


class LayerRules:
    """Rules for ops whose weights define channels."""

    def _matmul(self, args, kwargs, out, where, module):
        a, b = args[0], args[1]
        if a.dim() < 2 or b.dim() < 2:
            return False
        la, lb = self.labels(a, module), self.labels(b, module)
        self.unify(la[-1], lb[-2], f'op {where} (contracted dim)')
        nd = out.dim()
        res = []
        for d in range(nd - 2):
            lab = None
            for t, tl in ((a, la), (b, lb)):
                k = d - (nd - t.dim())
                if k < 0 or t.shape[k] == 1:
                    continue
                lab = tl[k] if lab is None else self.unify(lab, tl[k], f'op {where} (batch dim)')
            res.append(lab)
        res += [la[-2], lb[-1]]
        self.set(out, res)

    def _einsum(self, args, kwargs, out, where, module):
        """``einsum('bghid,bghjd->bghij', q, k)``: a letter shared by operands is one dim (its
        labels unified, contracted or kept); a letter of the output keeps its labels."""
        eq = args[0]
        ops = list(args[1]) if len(args) == 2 and isinstance(args[1], (list, tuple)) \
            else list(args[1:])
        if not isinstance(eq, str) or '.' in eq or not isinstance(out, Tensor) \
                or not all(isinstance(t, Tensor) for t in ops):
            return False
        eq = eq.replace(' ', '')
        lhs, _, rhs = eq.partition('->')
        terms = lhs.split(',')
        if not rhs and '->' not in eq:
            rhs = ''.join(sorted(c for c in set(lhs) - {','} if lhs.count(c) == 1))
        if len(terms) != len(ops) or any(len(s) != t.dim() for s, t in zip(terms, ops)) \
                or len(rhs) != out.dim():
            return False
        letter: dict[str, object] = {}
        for s, t in zip(terms, ops):
            lab = self.labels(t, module)
            for c, lb, size in zip(s, lab, t.shape):
                if size == 1:
                    continue  # broadcast
                if c not in letter:
                    letter[c] = lb
                else:
                    letter[c] = self.unify(letter[c], lb, f'op {where} (dim {c})')
        self.set(out, [letter.get(c) if out.shape[i] > 1 else None for i, c in enumerate(rhs)])

    def _addmm(self, args, kwargs, out, where, module):
        """``addmm(bias, x, w)``: a linear layer whose weight is stored ``[in, out]`` (GPT-2's
        ``Conv1D``), or a plain product plus a broadcast term."""
        bias, a, b = args[0], args[1], args[2]
        if kwargs.get('beta', 1) != 1 or kwargs.get('alpha', 1) != 1 or len(args) > 3 \
                or a.dim() != 2 or b.dim() != 2:
            return False
        la = self.labels(a, module)
        if id(b) in self.names:
            lin, lout = self.state_atoms(b, 0, 'in', module), self.state_atoms(b, 1, 'out', module)
        else:
            lin, lout = self.labels(b, module)
        self.unify(la[1], lin, f'op {where}')
        if isinstance(bias, Tensor) and bias.dim() >= 1 and bias.shape[-1] == out.shape[-1] > 1:
            lb = self.state_atoms(bias, bias.dim() - 1, 'out', module) if id(bias) in self.names \
                else self.labels(bias, module)[-1]
            lout = self.unify(lout, lb, f'op {where}')
        if isinstance(bias, Tensor) and bias.dim() == 2 and bias.shape[0] > 1:
            self.block_tensor(bias, f'op {where}: a 2-D term added to the product')
        self.set(out, [la[0], lout])

    def _linear(self, args, kwargs, out, where, module):
        x, w = args[0], args[1] if len(args) > 1 else kwargs['weight']
        b = args[2] if len(args) > 2 else kwargs.get('bias')
        if id(w) not in self.names:
            return self._matmul((x, w.t()), {}, out, where, module)
        lx = self.labels(x, module)
        self.unify(lx[-1], self.state_atoms(w, 1, 'in', module), f'op {where}')
        o = self.state_atoms(w, 0, 'out', module)
        if b is not None and id(b) in self.names:
            self.unify(o, self.state_atoms(b, 0, 'out', module), f'op {where}')
        self.set(out, list(lx[:-1]) + [o])

    def _conv(self, args, kwargs, out, where, module, transposed=False):
        x, w = args[0], args[1]
        b = args[2] if len(args) > 2 else kwargs.get('bias')
        pos = {'conv1d': 6, 'conv2d': 6, 'conv3d': 6}
        groups = kwargs.get('groups', args[pos.get(where.split(' ')[0], 7)]
                            if len(args) > pos.get(where.split(' ')[0], 7) else 1)
        if transposed:
            groups = kwargs.get('groups', args[6] if len(args) > 6 else 1)
        if id(w) not in self.names:
            return False
        lx = self.labels(x, module)
        cin = x.shape[1]
        odim, idim = (1, 0) if transposed else (0, 1)
        lab_out = self.state_atoms(w, odim, 'out', module) if w.shape[odim] > 1 or transposed \
            else None
        if groups == 1:
            self.unify(lx[1], self.state_atoms(w, idim, 'in', module), f'op {where}')
        elif not transposed and groups == cin and w.shape[0] == cin:
            # Depthwise: output channel c is input channel c.
            self.unify(lx[1], self.state_atoms(w, 0, 'out', module), f'op {where}')
        elif not transposed:
            # Grouped: remove the same in-group index from every group, so groups stay equal.
            in_per = w.shape[1]
            out_per = w.shape[0] // groups
            self._grouped(lx[1], groups, in_per, self.state_atoms(w, 1, 'in', module), where)
            self._grouped(self.state_atoms(w, 0, 'out', module), groups, out_per, None, where)
        else:
            self.block_tensor(x, f'op {where}: grouped transposed conv is not pruned')
            self.table.block(self.state_atoms(w, odim, 'out', module), f'op {where}: grouped '
                                                                        'transposed conv')
        if b is not None and id(b) in self.names:
            self.unify(lab_out, self.state_atoms(b, 0, 'out', module), f'op {where}')
        self.set(out, [lx[0], lab_out] + [None] * (out.dim() - 2))

    def _grouped(self, lab, groups: int, per: int, weight_atoms, where: str) -> None:
        if lab is None:
            if weight_atoms is not None:
                self.table.block(weight_atoms, f'op {where}: input channels are fixed')
            return
        if (lab < 0).any():
            self.table.block(lab, f'op {where}: grouped conv on partly fixed channels')
            return
        g_atoms = self.table.new(groups)
        inner = weight_atoms if weight_atoms is not None else self.table.new(per)
        axes = [np.repeat(g_atoms, per), np.tile(inner, groups)]
        self.table.products.append(Product(lab, axes, 'inner', where, (groups, per)))

    def _conv_transpose(self, args, kwargs, out, where, module):
        return self._conv(args, kwargs, out, where, module, transposed=True)

    def _batch_norm(self, args, kwargs, out, where, module):
        x = args[0]
        lx = self.labels(x, module)
        names = ['input', 'running_mean', 'running_var', 'weight', 'bias']
        vals = dict(zip(names, args))
        vals.update({k: v for k, v in kwargs.items() if k in names})
        lab = lx[1]
        for k in names[1:]:
            t = vals.get(k)
            if isinstance(t, Tensor) and id(t) in self.names:
                lab = self.unify(lab, self.state_atoms(t, 0, 'norm', module), f'op {where}')
        self.set(out, [lx[0], lab] + list(lx[2:]))

    def _layer_norm(self, args, kwargs, out, where, module):
        x = args[0]
        shape = args[1] if len(args) > 1 else kwargs['normalized_shape']
        w = args[2] if len(args) > 2 else kwargs.get('weight')
        b = args[3] if len(args) > 3 else kwargs.get('bias')
        lx = list(self.labels(x, module))
        k = len(shape)
        if w is None or id(w) not in self.names:
            for lab in lx[-k:]:
                if lab is not None:
                    self.table.block(lab, f'op {where}: a norm without weight keeps its shape')
            self.set(out, lx)
            return
        for j in range(k):
            d = x.dim() - k + j
            lx[d] = self.unify(lx[d], self.state_atoms(w, j, 'norm', module), f'op {where}')
            if b is not None and id(b) in self.names:
                lx[d] = self.unify(lx[d], self.state_atoms(b, j, 'norm', module), f'op {where}')
        self.set(out, lx)

    def _rms_norm(self, args, kwargs, out, where, module):
        x = args[0]
        shape = args[1] if len(args) > 1 else kwargs['normalized_shape']
        w = args[2] if len(args) > 2 else kwargs.get('weight')
        return self._layer_norm((x, shape, w, None), {}, out, where, module)

    def _group_norm(self, args, kwargs, out, where, module):
        x = args[0]
        groups = args[1] if len(args) > 1 else kwargs['num_groups']
        w = args[2] if len(args) > 2 else kwargs.get('weight')
        b = args[3] if len(args) > 3 else kwargs.get('bias')
        lx = list(self.labels(x, module))
        lab = lx[1]
        for t in (w, b):
            if t is not None and id(t) in self.names:
                lab = self.unify(lab, self.state_atoms(t, 0, 'norm', module), f'op {where}')
        if lab is not None and groups > 1:
            self._grouped(lab, groups, x.shape[1] // groups, None, where)
        lx[1] = lab
        self.set(out, lx)

    def _embedding(self, args, kwargs, out, where, module):
        idx, w = args[0], args[1]
        if id(w) not in self.names:
            return False
        self.set(out, [None] * idx.dim() + [self.state_atoms(w, 1, 'out', module)])

    def _sdpa(self, args, kwargs, out, where, module):
        q, k, v = args[:3]
        lq, lk, lv = self.labels(q, module), self.labels(k, module), self.labels(v, module)
        hd = self.unify(lq[-1], lk[-1], f'op {where} (head dim)')
        scale = kwargs.get('scale', args[6] if len(args) > 6 else None)
        if scale is None and hd is not None:
            self.table.block(hd, f'{where}: the head dim sets the softmax scale')
        nd = q.dim()
        res = list(lq[:-1]) + [lv[-1]]
        for d in range(nd - 2):
            h = lq[d]
            for t, lt in ((k, lk), (v, lv)):
                if lt[d] is None and h is None:
                    continue
                if t.shape[d] != q.shape[d] and lt[d] is not None:
                    # grouped-query attention (enable_gqa): query head h reads kv head h // G
                    g = q.shape[d] // t.shape[d]
                    h = self.unify(h, np.repeat(lt[d], g), f'op {where} (heads)')
                else:
                    h = self.unify(h, lt[d], f'op {where} (heads)')
            res[d] = h
        self.set(out, res)

    def _mha(self, args, kwargs, out, where, module):
        a = dict(zip(_MHA_ARGS, args), **kwargs)
        if a.get('static_k') is not None or a.get('static_v') is not None:
            return False
        heads = a['num_heads']
        # torch derives head_dim from the width it checks; the pruned form passes it
        return self._attention(a, heads, a['embed_dim_to_check'] // heads, out, where, module)

    def _pruned_mha(self, args, kwargs, out, where, module):
        a = dict(zip(_PRUNED_MHA_ARGS, args), **kwargs)
        return self._attention(a, a['num_heads'], a['head_dim'], out, where, module)

    def _attention(self, a: dict, heads: int, head_dim: int, out, where, module):
        """Multi-head attention with its projections inside one call: whole heads are pruned
        (q, k and v rows of a head and its out_proj columns together); every head keeps
        ``head_dim`` (the softmax scale depends on it); query, key and value widths are the
        projections' input channels, the output width out_proj's output channels."""
        weights = ('in_proj_weight', 'in_proj_bias', 'bias_k', 'bias_v', 'out_proj_weight',
                   'out_proj_bias', 'q_proj_weight', 'k_proj_weight', 'v_proj_weight')
        if a.get('out_proj_weight') is None or any(
                a.get(n) is not None and id(a[n]) not in self.names for n in weights):
            return False  # weights computed on the fly (e.g. masked): not understood
        inner = heads * head_dim
        q, k, v = a['query'], a['key'], a['value']
        if a.get('q_proj_weight') is not None:
            rows = []
            for x, n in ((q, 'q_proj_weight'), (k, 'k_proj_weight'), (v, 'v_proj_weight')):
                rows.append(self.state_atoms(a[n], 0, 'out', module))
                self.unify(self.labels(x, module)[-1], self.state_atoms(a[n], 1, 'in', module),
                           f'op {where}')
        else:
            w = a['in_proj_weight']
            packed = self.state_atoms(w, 0, 'out', module)
            rows = [packed[:inner], packed[inner:2 * inner], packed[2 * inner:]]
            cols = self.state_atoms(w, 1, 'in', module)
            for x in (q, k, v):
                self.unify(self.labels(x, module)[-1], cols, f'op {where}')
        if a.get('in_proj_bias') is not None:
            b = self.state_atoms(a['in_proj_bias'], 0, 'out', module)
            for j in range(3):
                self.unify(rows[j], b[j * inner:(j + 1) * inner], f'op {where}')
        for j, n in ((1, 'bias_k'), (2, 'bias_v')):
            t = a.get(n)
            if t is not None:
                self.unify(rows[j], self.state_atoms(t, t.dim() - 1, 'param', module), f'op {where}')
        head_atoms = self.table.new(heads)
        qk_dim, v_dim = self.table.new(head_dim), self.table.new(head_dim)
        self.table.block(np.concatenate([qk_dim, v_dim]),
                         f'{where}: every head keeps head_dim (it sets the softmax scale)')
        # q, k and v rows as one (head, dim) product: q and k rows of a head and dim are one
        # channel (their dot product), v rows of the head go with them.
        axes = [np.tile(np.repeat(head_atoms, head_dim), 3),
                np.concatenate([np.tile(d, heads) for d in (qk_dim, qk_dim, v_dim)])]
        self.table.products.append(Product(np.concatenate(rows), axes, 'outer', where,
                                           (heads, head_dim)))
        w_out = a['out_proj_weight']
        self.unify(rows[2], self.state_atoms(w_out, 1, 'in', module), f'op {where}')
        o = self.state_atoms(w_out, 0, 'out', module)
        if a.get('out_proj_bias') is not None:
            self.unify(o, self.state_atoms(a['out_proj_bias'], 0, 'out', module), f'op {where}')
        for x in (q, k, v):
            for lab in self.labels(x, module)[:-1]:
                if lab is not None:
                    self.table.block(lab, f'{where}: attention mixes the tokens of this dim')
        attn_out, attn_weights = out
        self.set(attn_out, [None] * (attn_out.dim() - 1) + [o])
        if isinstance(attn_weights, Tensor):
            per_head = a.get('need_weights', True) and not a.get('average_attn_weights', True)
            lab = [None] * attn_weights.dim()
            if per_head:
                lab[-3] = head_atoms
            self.set(attn_weights, lab)


_MHA_ARGS = tuple(inspect.signature(torch.nn.functional.multi_head_attention_forward).parameters)
_PRUNED_MHA_ARGS = ('query', 'key', 'value', 'num_heads', 'head_dim', 'in_proj_weight',
                    'in_proj_bias', 'bias_k', 'bias_v', 'add_zero_attn', 'dropout_p',
                    'out_proj_weight', 'out_proj_bias', 'training', 'key_padding_mask',
                    'need_weights', 'attn_mask', 'q_proj_weight', 'k_proj_weight',
                    'v_proj_weight', 'average_attn_weights')
