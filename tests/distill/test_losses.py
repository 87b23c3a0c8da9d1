"""Every distillation loss against an independent formula (numpy loops on small inputs)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from razor_ext.registry import MODELS

RNG = np.random.default_rng(0)


def t(a: np.ndarray) -> torch.Tensor:
    return torch.tensor(a, dtype=torch.float64)


def softmax(row: np.ndarray) -> np.ndarray:
    e = np.exp(row - row.max())
    return e / e.sum()


def kl(p: np.ndarray, q: np.ndarray) -> float:
    return float(sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q) if pi > 0))


def build(name: str, **kw):
    return MODELS.build(dict(type=name, **kw))


ALL_NAMES = ['KLDivergence', 'DKDLoss', 'DISTLoss', 'WSLD', 'CrossEntropyLoss',
             'ChannelWiseDivergence', 'ATLoss', 'FTLoss', 'OFDLoss', 'ABLoss', 'L2Loss', 'L1Loss',
             'PKDLoss', 'MGDLoss', 'DistanceWiseRKD', 'AngleWiseRKD', 'OnehotLikeLoss',
             'InformationEntropyLoss', 'ActivationLoss', 'FBKDLoss', 'KDSoftCELoss', 'CRDLoss']


@pytest.mark.parametrize('name', ALL_NAMES)
def test_registered_with_paper_docstring(name):
    cls = MODELS.get(name)
    assert cls is not None
    assert 'arxiv.org' in cls.__doc__ or 'openreview.net' in cls.__doc__


@pytest.mark.parametrize('reduction', ['batchmean', 'sum', 'mean', 'none'])
@pytest.mark.parametrize('tau', [1.0, 3.0])
def test_kl_divergence(reduction, tau):
    s, te = RNG.normal(size=(3, 5)) * 2, RNG.normal(size=(3, 5)) * 2
    rows = [kl(softmax(te[i] / tau), softmax(s[i] / tau)) * tau ** 2 for i in range(3)]
    p_t = np.stack([softmax(r / tau) for r in te])
    p_s = np.stack([softmax(r / tau) for r in s])
    terms = p_t * (np.log(p_t) - np.log(p_s)) * tau ** 2  # MMRazor's 'none': element-wise
    expected = {'batchmean': sum(rows) / 3, 'sum': sum(rows), 'mean': sum(rows) / 15,
                'none': terms}[reduction]
    got = build('KLDivergence', tau=tau, reduction=reduction, loss_weight=2.0)(t(s), t(te))
    np.testing.assert_allclose(got.numpy(), 2.0 * np.array(expected), rtol=1e-10)


def test_kl_divergence_classes_on_dim1_of_nd_inputs_and_teacher_detached():
    s, te = t(RNG.normal(size=(2, 4, 3))).requires_grad_(), t(RNG.normal(size=(2, 4, 3)))
    te.requires_grad_()
    expected = sum(kl(softmax(te.detach().numpy()[n, :, k]), softmax(s.detach().numpy()[n, :, k]))
                   for n in range(2) for k in range(3)) / 2
    got = build('KLDivergence')(s, te)
    assert got.item() == pytest.approx(expected, rel=1e-10)
    got.backward()
    assert te.grad is None and s.grad is not None


@pytest.mark.parametrize('reduction', ['batchmean', 'sum', 'mean', 'none'])
def test_kl_divergence_matches_mmrazor_on_4d_inputs(reduction):
    # MMRazor: tau**2 * F.kl_div(log_softmax(S/tau, 1), softmax(T/tau, 1), reduction)
    s, te = t(RNG.normal(size=(2, 5, 3, 4))).requires_grad_(), t(RNG.normal(size=(2, 5, 3, 4)))
    tau = 2.0
    ref = tau ** 2 * torch.nn.functional.kl_div(
        torch.log_softmax(s / tau, 1), torch.softmax(te / tau, 1), reduction=reduction)
    got = build('KLDivergence', tau=tau, reduction=reduction, loss_weight=0.5)(s, te)
    assert got.shape == ref.shape
    torch.testing.assert_close(got, 0.5 * ref, rtol=1e-9, atol=1e-12)
    grad, = torch.autograd.grad(got.sum(), s)
    ref_grad, = torch.autograd.grad((0.5 * ref).sum(), s)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-9, atol=1e-12)


def test_kl_divergence_bad_arguments_name_them():
    with pytest.raises(ValueError, match='reduction'):
        build('KLDivergence', reduction='avg')
    with pytest.raises(ValueError, match='tau'):
        build('KLDivergence', tau=0)


@pytest.mark.parametrize('reduction', ['batchmean', 'sum', 'mean', 'none'])
def test_dkd(reduction):
    tau, alpha, beta = 2.0, 0.5, 3.0
    s, te = RNG.normal(size=(4, 6)), RNG.normal(size=(4, 6))
    labels = np.array([0, 3, 5, 1])
    tckd = nckd = 0.0
    for i in range(4):
        ps, pt = softmax(s[i] / tau), softmax(te[i] / tau)
        g = labels[i]
        tckd += kl([pt[g], 1 - pt[g]], [ps[g], 1 - ps[g]])
        keep = [c for c in range(6) if c != g]
        nckd += kl(softmax(te[i, keep] / tau), softmax(s[i, keep] / tau))
    # MMRazor's F.kl_div(..., size_average=False, reduction=r): the sum, divided by N only for
    # 'batchmean' (torch divides after the legacy argument chose the sum)
    div = 4 if reduction == 'batchmean' else 1
    expected = (alpha * tckd + beta * nckd) * tau ** 2 / div
    got = build('DKDLoss', tau=tau, alpha=alpha, beta=beta, reduction=reduction)(
        t(s), t(te), torch.tensor(labels))
    assert got.item() == pytest.approx(expected, rel=1e-6)


def test_dist_loss():
    tau = 2.0
    s, te = RNG.normal(size=(4, 5)), RNG.normal(size=(4, 5))
    ys = np.stack([softmax(r / tau) for r in s])
    yt = np.stack([softmax(r / tau) for r in te])
    inter = 1 - np.mean([np.corrcoef(ys[i], yt[i])[0, 1] for i in range(4)])
    intra = 1 - np.mean([np.corrcoef(ys[:, j], yt[:, j])[0, 1] for j in range(5)])
    got = build('DISTLoss', inter_loss_weight=0.3, intra_loss_weight=2.0, tau=tau)(t(s), t(te))
    assert got.item() == pytest.approx(tau ** 2 * (0.3 * inter + 2.0 * intra), rel=1e-6)


def test_wsld():
    tau = 2.0
    s, te = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    labels = np.array([1, 0, 3])
    total = 0.0
    for i in range(3):
        pt, ls = softmax(te[i] / tau), np.log(softmax(s[i] / tau))
        ce = -float(np.dot(pt, ls))
        ce_s = -math.log(softmax(s[i])[labels[i]])
        ce_t = -math.log(softmax(te[i])[labels[i]])
        w = 1 - math.exp(-max(ce_s / (ce_t + 1e-7), 0))
        total += w * ce
    got = build('WSLD', tau=tau, num_classes=4)(t(s), t(te), torch.tensor(labels))
    assert got.item() == pytest.approx(tau ** 2 * total / 3, rel=1e-9)


def test_cross_entropy_on_teacher_argmax():
    s, te = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    expected = np.mean([-math.log(softmax(s[i])[np.argmax(te[i])]) for i in range(3)])
    assert build('CrossEntropyLoss', loss_weight=0.5)(t(s), t(te)).item() == \
        pytest.approx(0.5 * expected, rel=1e-10)


def test_channel_wise_divergence():
    tau = 4.0
    s, te = RNG.normal(size=(2, 3, 2, 3)), RNG.normal(size=(2, 3, 2, 3))
    total = sum(kl(softmax(te[n, c].ravel() / tau), softmax(s[n, c].ravel() / tau))
                for n in range(2) for c in range(3))
    got = build('ChannelWiseDivergence', tau=tau, loss_weight=3.0)(t(s), t(te))
    assert got.item() == pytest.approx(3.0 * total * tau ** 2 / 6, rel=1e-9)


def test_at_loss():
    s, te = RNG.normal(size=(2, 3, 2, 2)), RNG.normal(size=(2, 5, 2, 2))

    def att(x, n):
        a = (x[n] ** 2).mean(0).ravel()
        return a / max(np.sqrt((a ** 2).sum()), 1e-12)
    expected = np.mean([(att(s, n) - att(te, n)) ** 2 for n in range(2)])
    assert build('ATLoss')(t(s), t(te)).item() == pytest.approx(expected, rel=1e-10)


def test_ft_loss():
    s, te = RNG.normal(size=(2, 3, 2)), RNG.normal(size=(2, 3, 2))
    fs = [s[n].ravel() / np.linalg.norm(s[n]) for n in range(2)]
    ft = [te[n].ravel() / np.linalg.norm(te[n]) for n in range(2)]
    expected = np.mean(np.abs(np.stack(fs) - np.stack(ft)))
    assert build('FTLoss')(t(s), t(te)).item() == pytest.approx(expected, rel=1e-10)


def test_ofd_loss():
    s, te = RNG.normal(size=(2, 7)), RNG.normal(size=(2, 7))
    total = sum((a - b) ** 2 for a, b in zip(s.ravel(), te.ravel()) if a > b or b > 0)
    got = build('OFDLoss', mul_factor=10.0)(t(s), t(te))
    assert got.item() == pytest.approx(total / 2 / 10.0, rel=1e-10)


def test_ab_loss():
    m = 0.5
    s, te = RNG.normal(size=(2, 9)), RNG.normal(size=(2, 9))
    total = 0.0
    for a, b in zip(s.ravel(), te.ravel()):
        if b <= 0 and a > -m:
            total += (a + m) ** 2
        if b > 0 and a <= m:
            total += (a - m) ** 2
    got = build('ABLoss', margin=m)(t(s), t(te))
    assert got.item() == pytest.approx(total / 2 / 1000 * 3, rel=1e-10)


@pytest.mark.parametrize('kw', [dict(), dict(normalize=False), dict(div_element=True, mult=2.0),
                                dict(dist=True)])
def test_l2_loss(kw):
    s, te = RNG.normal(size=(2, 3, 2)), RNG.normal(size=(2, 3, 2))
    a, b = s.reshape(2, -1), te.reshape(2, -1)
    if kw.get('normalize', True):
        mult = kw.get('mult', 1.0)
        a = np.stack([r / np.linalg.norm(r) * mult for r in a])
        b = np.stack([r / np.linalg.norm(r) * mult for r in b])
    total = ((a - b) ** 2).sum()
    expected = math.sqrt(total) if kw.get('dist') else (
        total / 12 if kw.get('div_element') else total / 2)
    assert build('L2Loss', **kw)(t(s), t(te)).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'batchmean'])
def test_l1_loss(reduction):
    s, te = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    total = sum(abs(a - b) for a, b in zip(s.ravel(), te.ravel()))
    expected = {'mean': total / 12, 'sum': total, 'batchmean': total / 3}[reduction]
    assert build('L1Loss', reduction=reduction)(t(s), t(te)).item() == \
        pytest.approx(expected, rel=1e-10)


def test_pkd_loss_with_resize_and_levels():
    s1, t1 = RNG.normal(size=(2, 3, 4, 4)), RNG.normal(size=(2, 3, 4, 4))
    s2, t2 = RNG.normal(size=(2, 2, 3, 3)), RNG.normal(size=(2, 2, 3, 3))

    def norm(x):
        out = np.empty_like(x)
        for c in range(x.shape[1]):
            v = x[:, c]
            out[:, c] = (v - v.mean()) / (v.std(ddof=1) + 1e-6)
        return out
    expected = sum(np.mean((norm(a) - norm(b)) ** 2) / 2 for a, b in ((s1, t1), (s2, t2)))
    got = build('PKDLoss', loss_weight=2.0)((t(s1), t(s2)), (t(t1), t(t2)))
    assert got.item() == pytest.approx(2.0 * expected, rel=1e-9)
    # A smaller student map is resized to the teacher's spatial size.
    small = t(RNG.normal(size=(2, 3, 2, 2)))
    assert build('PKDLoss')(small, t(t1)).ndim == 0


def test_mgd_loss():
    s, te = RNG.normal(size=(2, 3, 2, 2)), RNG.normal(size=(2, 3, 2, 2))
    expected = 1e-3 * ((s - te) ** 2).sum() / 2
    assert build('MGDLoss', alpha_mgd=1e-3)(t(s), t(te)).item() == pytest.approx(expected, rel=1e-10)


def smooth_l1(a, b):
    d = np.abs(a - b)
    return np.mean(np.where(d < 1, 0.5 * d ** 2, d - 0.5))


def test_distance_wise_rkd():
    s, te = RNG.normal(size=(4, 3)), RNG.normal(size=(4, 5))

    def dist(x):
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        d = np.array([[np.linalg.norm(x[i] - x[j]) for j in range(4)] for i in range(4)])
        return d / d[d > 0].mean()
    expected = 25.0 * smooth_l1(dist(s), dist(te))
    assert build('DistanceWiseRKD')(t(s), t(te)).item() == pytest.approx(expected, rel=1e-6)


def test_angle_wise_rkd():
    s, te = RNG.normal(size=(3, 2)), RNG.normal(size=(3, 4))

    def angles(x):
        x = x / np.linalg.norm(x, axis=1, keepdims=True)
        out = []
        for i in range(3):
            for j in range(3):
                for k in range(3):
                    e1, e2 = x[j] - x[i], x[k] - x[i]
                    n1, n2 = max(np.linalg.norm(e1), 1e-12), max(np.linalg.norm(e2), 1e-12)
                    out.append(np.dot(e1 / n1, e2 / n2))
        return np.array(out)
    expected = 50.0 * smooth_l1(angles(s), angles(te))
    assert build('AngleWiseRKD')(t(s), t(te)).item() == pytest.approx(expected, rel=1e-6)


def test_dafl_losses():
    x = RNG.normal(size=(3, 4))
    onehot = np.mean([-math.log(softmax(x[i])[np.argmax(x[i])]) for i in range(3)])
    assert build('OnehotLikeLoss', loss_weight=2.0)(t(x)).item() == pytest.approx(2 * onehot)
    p = np.mean([softmax(r) for r in x], axis=0)
    entropy = sum(pi * math.log10(pi) for pi in p)
    assert build('InformationEntropyLoss', loss_weight=0.5)(t(x)).item() == \
        pytest.approx(0.5 * entropy, rel=1e-10)
    f = RNG.normal(size=(2, 3, 2))
    assert build('ActivationLoss')(t(f)).item() == pytest.approx(-np.abs(f).mean())
    assert build('ActivationLoss', norm_type='norm')(t(f)).item() == \
        pytest.approx(-math.sqrt((f ** 2).sum()))
    with pytest.raises(ValueError, match='norm_type'):
        build('ActivationLoss', norm_type='l3')


def test_fbkd_loss():
    n, c, h, w = 1, 2, 3, 3
    sp_s, sp_t = RNG.random((n, 1, h, w)), RNG.random((n, 1, h, w))
    ch_s, ch_t = RNG.random((n, c, 1, 1)), RNG.random((n, c, 1, 1))
    cpool_s = RNG.normal(size=(n, c))
    spool_s, spool_t = RNG.normal(size=(n, 1, h, w)), RNG.normal(size=(n, 1, h, w))
    rel_s, rel_t = RNG.normal(size=(n, c, h, w)), RNG.normal(size=(n, c, h, w))
    f_s, f_t = RNG.normal(size=(n, c, h, w)), RNG.normal(size=(n, c, h, w))
    mask = (sp_s + sp_t) / 2
    expected = (math.sqrt(((f_t - f_s) ** 2 * mask).sum()) * 1.0
                + np.linalg.norm(f_t.mean((2, 3)) - cpool_s) * 2.0
                + np.linalg.norm(spool_t - spool_s) * 3.0
                + np.linalg.norm(rel_t - rel_s) * 4.0)
    loss = build('FBKDLoss', mask_l2_weight=1.0, channel_weight=2.0, spatial_weight=3.0,
                 nonloacl_weight=4.0)
    s_in = tuple(map(t, (sp_s, ch_s, cpool_s, spool_s, rel_s, f_s)))
    t_in = tuple(map(t, (sp_t, ch_t, spool_t, rel_t, f_t)))
    assert loss(s_in, t_in).item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize('reduction', ['mean', 'sum', 'none'])
def test_kd_soft_ce(reduction):
    tau = 2.0
    s, te = RNG.normal(size=(3, 4)), RNG.normal(size=(3, 4))
    w = np.array([1.0, 0.5, 2.0])
    rows = np.array([-np.dot(softmax(te[i] / tau), np.log(softmax(s[i] / tau))) * w[i]
                     for i in range(3)]) * tau ** 2
    expected = {'mean': rows.mean(), 'sum': rows.sum(), 'none': rows}[reduction]
    got = build('KDSoftCELoss', tau=tau, reduction=reduction)(t(s), t(te), weight=t(w))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    got = build('KDSoftCELoss', tau=tau, mult_tem_square=False)(t(s), t(te), weight=t(w),
                                                                avg_factor=2.0)
    assert got.item() == pytest.approx(rows.sum() / tau ** 2 / 2.0, rel=1e-6)


def test_crd_loss_given_contrast_indices_and_memory_update():
    torch.manual_seed(0)
    loss = build('CRDLoss', loss_weight=0.5, temperature=0.5, neg_num=3, sample_n=6, dim_out=4,
                 momentum=0.25)
    mem1 = loss.contrast.memory_v1.double().numpy().copy()
    mem2 = loss.contrast.memory_v2.double().numpy().copy()
    loss.double()
    fs = RNG.normal(size=(2, 4))
    ft = RNG.normal(size=(2, 4))
    idx = np.array([1, 4])
    contrast = np.array([[1, 0, 2, 3], [4, 5, 0, 1]])
    samples = [dict(sample_idx=torch.tensor(i), contrast_sample_idxs=torch.tensor(c))
               for i, c in zip(idx, contrast)]
    got = loss(t(fs), t(ft), samples).item()

    def nce(scores):
        m = scores.shape[1] - 1
        noise = m / 6
        total = 0.0
        for row in scores:
            total += math.log(row[0] / (row[0] + noise + 1e-7))
            total += sum(math.log(noise / (x + noise + 1e-7)) for x in row[1:])
        return -total / scores.shape[0]
    out_s = np.array([[math.exp(mem2[j] @ fs[b] / 0.5) for j in contrast[b]] for b in range(2)])
    out_t = np.array([[math.exp(mem1[j] @ ft[b] / 0.5) for j in contrast[b]] for b in range(2)])
    out_s /= out_s.mean() * 6
    out_t /= out_t.mean() * 6
    assert got == pytest.approx(0.5 * (nce(out_s) + nce(out_t)), rel=1e-9)
    upd = mem1[1] * 0.25 + fs[0] * 0.75
    np.testing.assert_allclose(loss.contrast.memory_v1[1].numpy(), upd / np.linalg.norm(upd),
                               rtol=1e-6)


def test_functional_matches_torch_expression_and_rejects_bad_arguments():
    from razor_ext.distill.losses.functional import cwd_loss, kd_kl_div
    s, te = torch.randn(4, 6), torch.randn(4, 6)
    for r in ('batchmean', 'sum'):
        ref = torch.nn.functional.kl_div(torch.log_softmax(s / 2, -1), torch.softmax(te / 2, -1),
                                         reduction=r) * 4
        torch.testing.assert_close(kd_kl_div(s, te, 2.0, r), ref)
    with pytest.raises(ValueError, match='reduction'):
        kd_kl_div(s, te, 1.0, 'avg')
    with pytest.raises(ValueError, match='tau'):
        kd_kl_div(s, te, -1.0)
    with pytest.raises(ValueError, match='teacher'):
        kd_kl_div(s, te[:, :3])
    with pytest.raises(ValueError, match='student'):
        cwd_loss(s, te)
