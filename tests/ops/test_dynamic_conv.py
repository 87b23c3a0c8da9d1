"""dynamic_conv2d and dynamic_linear against their slicing references: values, gradients (to the
full weight, zero outside the active block), both conv paths, layouts, empty and odd shapes,
errors, opcheck, gradcheck and torch.compile."""
from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from razor_ext.ops import dynamic_conv2d, dynamic_linear, reference

ALGORITHMS = ["auto", "gemm", "conv"]

# (weight shape, input channels, out_channels, kernel_size, stride, padding, dilation, groups)
CONV_CASES = {
    "half_width_3x3": ((12, 10, 3, 3), 5, 6, 3, 1, 1, 1, 1),
    "all_out_channels": ((12, 10, 3, 3), 7, None, None, 1, 1, 1, 1),
    "all_in_channels": ((12, 10, 3, 3), 10, 4, 3, 1, 0, 1, 1),
    "pointwise": ((16, 12, 1, 1), 9, 11, None, 1, 0, 1, 1),
    "pointwise_strided": ((16, 12, 1, 1), 9, 11, None, 2, 0, 1, 1),
    "stride_dilation": ((8, 6, 3, 3), 4, 5, 3, (2, 1), (2, 1), (2, 1), 1),
    "dilated_same_size": ((8, 6, 3, 3), 4, 5, 3, 1, 2, 2, 1),
    "same_width_fewer_rows": ((8, 6, 3, 3), 4, 5, 3, 1, (0, 1), 1, 1),
    "crop_5_to_3": ((8, 6, 5, 5), 4, 5, 3, 1, 1, 1, 1),
    "crop_7_to_1": ((8, 6, 7, 7), 6, 8, 1, 1, 0, 1, 1),
    "full_7": ((8, 6, 7, 7), 3, 2, 7, 2, 3, 1, 1),
    "depthwise": ((10, 1, 3, 3), 7, None, None, 1, 1, 1, 7),
    "depthwise_crop": ((10, 1, 7, 7), 6, 6, 5, 2, 2, 1, 6),
}


def conv_inputs(case: str, dtype=torch.float64, batch: int = 3, hw=(9, 7), bias: bool = True,
                seed: int = 0):
    shape, channels, out, k, stride, padding, dilation, groups = CONV_CASES[case]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, *hw, generator=g, dtype=dtype, requires_grad=True)
    w = torch.randn(*shape, generator=g, dtype=dtype, requires_grad=True)
    b = torch.randn(shape[0], generator=g, dtype=dtype, requires_grad=True) if bias else None
    options = dict(out_channels=out, stride=stride, padding=padding, dilation=dilation,
                   groups=groups, kernel_size=k)
    return x, w, b, options


def call_path(algorithm: str, x, w, b, out_channels=None, stride=1, padding=0, dilation=1,
              groups=1, kernel_size=None):
    """The op itself with a chosen path (the public function always passes 'auto')."""
    pair = lambda v: [v, v] if isinstance(v, int) else list(v)  # noqa: E731
    return torch.ops.razor_ext.dynamic_conv2d(x, w, b, out_channels, pair(stride), pair(padding),
                                              pair(dilation), groups, kernel_size, algorithm)


def gemm_applies(w, options) -> bool:
    k = options["kernel_size"]
    return options["groups"] == 1 and (k is None or k == w.shape[-1]) and w.is_contiguous()


def assert_conv_matches(fn, x, w, b, options, tol=None):
    tol = tol or {}
    y = fn(x, w, b, **options)
    y_ref = reference.dynamic_conv2d(x, w, b, **options)
    assert y.shape == y_ref.shape and y.dtype == y_ref.dtype
    torch.testing.assert_close(y, y_ref, **tol)
    grad = torch.randn_like(y_ref)
    leaves = [t for t in (x, w, b) if t is not None and t.requires_grad]
    got = torch.autograd.grad(y, leaves, grad)
    expected = torch.autograd.grad(y_ref, leaves, grad)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        torch.testing.assert_close(g, e, **tol)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", list(CONV_CASES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_conv_matches_reference(case, algorithm, dtype):
    x, w, b, options = conv_inputs(case, dtype)
    if algorithm == "gemm" and not gemm_applies(w, options):
        pytest.skip("gemm needs groups=1 and the full kernel")
    assert_conv_matches(lambda *a, **o: call_path(algorithm, *a, **o), x, w, b, options)


@pytest.mark.parametrize("case", ["half_width_3x3", "crop_5_to_3", "depthwise_crop"])
def test_public_function_and_no_bias(case):
    x, w, _, options = conv_inputs(case, bias=False)
    assert_conv_matches(dynamic_conv2d, x, w, None, options)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_weight_grad_is_zero_outside_active_block(algorithm):
    x, w, b, options = conv_inputs("half_width_3x3")
    call_path(algorithm, x, w, b, **options).sum().backward()
    o, i = options["out_channels"], x.shape[1]
    assert w.grad.shape == w.shape and b.grad.shape == b.shape
    assert w.grad[o:].eq(0).all() and w.grad[:, i:].eq(0).all() and b.grad[o:].eq(0).all()
    assert w.grad[:o, :i].ne(0).all()


def test_cropped_kernel_grad_is_zero_on_the_rim():
    x, w, b, options = conv_inputs("crop_5_to_3")
    dynamic_conv2d(x, w, b, **options).sum().backward()
    rim = torch.ones(5, 5, dtype=torch.bool)
    rim[1:4, 1:4] = False
    assert w.grad[..., rim].eq(0).all() and w.grad[:5, :4, 1:4, 1:4].ne(0).all()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("wanted", [(True, False, False), (False, True, False), (False, False, True),
                                    (False, True, True)])
def test_only_requested_grads(algorithm, wanted):
    x, w, b, options = conv_inputs("half_width_3x3")
    for t, want in zip((x, w, b), wanted):
        t.requires_grad_(want)
    assert_conv_matches(lambda *a, **o: call_path(algorithm, *a, **o), x, w, b, options)


class BackwardMasks(TorchDispatchMode):
    """Records the output_mask of every dynamic *_backward call below autograd."""

    def __init__(self):
        super().__init__()
        self.masks = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func._schema.name.endswith("_backward") and "razor_ext" in func._schema.name:
            names = [a.name for a in func._schema.arguments]
            self.masks.append(list(args[names.index("output_mask")]))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("op", ["conv", "linear"])
def test_backward_computes_only_the_grads_asked_for(op):
    # autograd.grad to the input alone must not pay for the full-size weight gradient.
    if op == "conv":
        x, w, b, options = conv_inputs("half_width_3x3")
        forward = lambda: dynamic_conv2d(x, w, b, **options)  # noqa: E731
    else:
        x, w, b = linear_inputs(shape=(3,), features=5, weight=(6, 8))
        forward = lambda: dynamic_linear(x, w, b, 4)  # noqa: E731
    for wanted, mask in (([x], [True, False, False]), ([w, b], [False, True, True]),
                         ([x, w, b], [True, True, True])):
        y = forward()
        with BackwardMasks() as seen:
            grads = torch.autograd.grad(y.sum(), wanted)
        assert seen.masks == [mask]
        assert [g.shape for g in grads] == [t.shape for t in wanted]


@pytest.mark.parametrize("op", ["conv", "linear"])
def test_double_backward_is_a_clear_error(op):
    if op == "conv":
        x, w, b, options = conv_inputs("half_width_3x3")
        y = dynamic_conv2d(x, w, b, **options)
    else:
        x, w, b = linear_inputs(shape=(3,), features=5, weight=(6, 8))
        y = dynamic_linear(x, w, b, 4)
    (gx,) = torch.autograd.grad(y.square().sum(), [x], create_graph=True)
    with pytest.raises(RuntimeError, match="double backward, create_graph=True"):
        gx.sum().backward()


@pytest.mark.parametrize("algorithm", ["auto", "gemm", "conv"])
def test_autocast_runs_in_lower_precision_with_float32_grads(algorithm):
    # Like F.conv2d / F.linear under torch.autocast: inputs and weights are cast to bfloat16 (CPU),
    # the output is bfloat16, and the float32 leaves get float32 gradients. A float32 weight with
    # a bfloat16 input (the previous layer's autocast output) must not be a dtype error.
    g = torch.Generator().manual_seed(4)
    w = torch.randn(12, 10, 3, 3, generator=g, requires_grad=True)
    b = torch.randn(12, generator=g, requires_grad=True)
    lw = torch.randn(6, 8, generator=g, requires_grad=True)
    x = torch.randn(1, 5, 6, 6, generator=g).bfloat16().requires_grad_()
    tokens = torch.randn(3, 5, generator=g, requires_grad=True)
    pair = [1, 1]

    def ours():
        y = torch.ops.razor_ext.dynamic_conv2d(x, w, b, 6, pair, pair, pair, 1, None, algorithm)
        return y, dynamic_linear(tokens, lw, None, 4)

    def sliced():
        return (reference.dynamic_conv2d(x, w, b, out_channels=6, padding=1),
                reference.dynamic_linear(tokens, lw, None, 4))

    results = []
    for fn in (ours, sliced):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            conv, linear = fn()
        assert conv.dtype == linear.dtype == torch.bfloat16
        grads = torch.autograd.grad(conv.float().square().sum() + linear.float().sum(),
                                    [x, w, b, lw, tokens])
        assert [t.dtype for t in grads] == [torch.bfloat16] + [torch.float32] * 4
        results.append((conv, linear) + grads)
    for got, expected in zip(*results):
        # bfloat16 keeps 8 bits: compare at 2% of each tensor's largest value.
        scale = float(expected.float().abs().max())
        torch.testing.assert_close(got.float(), expected.float(), rtol=0.02, atol=0.02 * scale)


def func_cases():
    """(op, reference) pairs of functions of (weight, bias, input) for the torch.func tests."""
    conv = dict(out_channels=4, padding=1)
    return {
        "conv": (lambda w, b, x: dynamic_conv2d(x, w, b, **conv),
                 lambda w, b, x: reference.dynamic_conv2d(x, w, b, **conv),
                 (8, 8, 3, 3), (2, 4, 5, 5)),
        "linear": (lambda w, b, x: dynamic_linear(x, w, b, 4),
                   lambda w, b, x: reference.dynamic_linear(x, w, b, 4), (6, 8), (3, 5)),
    }


@pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")
@pytest.mark.parametrize("op", ["conv", "linear"])
def test_torch_func_grad_vmap_and_per_sample_grads(op):
    # torch.func refuses C++ autograd nodes; under a transform the ops take a Python route.
    fn, ref, w_shape, x_shape = func_cases()[op]
    g = torch.Generator().manual_seed(0)
    w = torch.randn(*w_shape, generator=g, dtype=torch.float64)
    b = torch.randn(w_shape[0], generator=g, dtype=torch.float64)
    x = torch.randn(*x_shape, generator=g, dtype=torch.float64)

    def loss(f):
        return lambda w, b, x: f(w, b, x).square().sum()

    got = torch.func.grad(loss(fn), argnums=(0, 1))(w, b, x)
    expected = torch.func.grad(loss(ref), argnums=(0, 1))(w, b, x)
    for a, e in zip(got, expected):
        torch.testing.assert_close(a, e)
    assert got[0][4:].eq(0).all() and got[1][4:].eq(0).all()
    torch.testing.assert_close(torch.func.vmap(fn, in_dims=(None, None, 0))(w, b, x.unsqueeze(1)),
                               ref(w, b, x).unsqueeze(1))
    per_sample = torch.func.vmap(torch.func.grad(lambda w, x: loss(fn)(w, b, x[None])),
                                 in_dims=(None, 0))
    per_sample_ref = torch.func.vmap(torch.func.grad(lambda w, x: loss(ref)(w, b, x[None])),
                                     in_dims=(None, 0))
    torch.testing.assert_close(per_sample(w, x), per_sample_ref(w, x))
    torch.testing.assert_close(torch.func.jacrev(fn)(w, b, x), torch.func.jacrev(ref)(w, b, x))


@pytest.mark.parametrize("op", ["conv", "linear"])
def test_torch_func_second_order_and_forward_mode_raise(op):
    fn, _, w_shape, x_shape = func_cases()[op]
    w, b, x = torch.randn(*w_shape), torch.randn(w_shape[0]), torch.randn(*x_shape)
    first = torch.func.grad(lambda w: fn(w, b, x).square().sum())
    with pytest.raises(RuntimeError, match="nested torch.func gradients"):
        torch.func.grad(lambda w: first(w).square().sum())(w)
    with pytest.raises(NotImplementedError, match="jvp"):
        torch.func.jvp(lambda w: fn(w, b, x), (w,), (torch.ones_like(w),))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_non_contiguous_input(algorithm):
    x, w, b, options = conv_inputs("half_width_3x3")
    base = torch.randn(3, 9, 7, 10, dtype=torch.float64)
    channels_last = x.detach().to(memory_format=torch.channels_last).requires_grad_()
    strided = base.permute(0, 3, 1, 2)[:, ::2].detach().requires_grad_()  # (3, 5, 9, 7)
    for xi in (channels_last, strided):
        assert not xi.is_contiguous()
        assert_conv_matches(lambda *a, **o: call_path(algorithm, *a, **o), xi, w, b, options)


def test_non_contiguous_weight_takes_the_conv_path():
    x, w, b, options = conv_inputs("half_width_3x3")
    wt = w.detach().transpose(2, 3).requires_grad_()  # same shape, not contiguous
    assert_conv_matches(dynamic_conv2d, x, wt, b, options)
    with pytest.raises(ValueError, match="'gemm' needs"):
        call_path("gemm", x, wt, b, **options)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", ["half_width_3x3", "crop_5_to_3", "depthwise"])
def test_empty_batch(case, algorithm):
    x, w, b, options = conv_inputs(case, batch=0)
    if algorithm == "gemm" and not gemm_applies(w, options):
        pytest.skip("gemm needs groups=1 and the full kernel")
    y = call_path(algorithm, x, w, b, **options)
    assert y.shape == reference.dynamic_conv2d(x, w, b, **options).shape
    y.sum().backward()
    assert x.grad.shape == x.shape
    assert w.grad.shape == w.shape and w.grad.eq(0).all() and b.grad.eq(0).all()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_odd_shapes(algorithm):
    # 1 pixel wide, prime channel counts, one output channel, stride larger than the kernel.
    g = torch.Generator().manual_seed(3)
    w = torch.randn(13, 11, 3, 3, generator=g, dtype=torch.float64, requires_grad=True)
    for hw, options in [((1, 17), dict(out_channels=1, padding=1)),
                        ((5, 3), dict(out_channels=13, stride=4, padding=(1, 0))),
                        ((3, 3), dict(out_channels=7))]:
        x = torch.randn(2, 7, *hw, generator=g, dtype=torch.float64, requires_grad=True)
        assert_conv_matches(lambda *a, **o: call_path(algorithm, *a, **o), x, w, None, options)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_large_float32(algorithm):
    g = torch.Generator().manual_seed(4)
    w = torch.randn(96, 64, 3, 3, generator=g, requires_grad=True)
    b = torch.randn(96, generator=g, requires_grad=True)
    x = torch.randn(4, 48, 28, 28, generator=g, requires_grad=True)
    options = dict(out_channels=80, padding=1)
    tol = dict(rtol=1e-4, atol=1e-3)
    assert_conv_matches(lambda *a, **o: call_path(algorithm, *a, **o), x, w, b, options, tol)


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("op", ["gemm", "conv", "linear"])
def test_full_weight_gradient_split_between_threads(thread_count, op, threads):
    # Weights of more than `threads` x ATen's grain size (32768 elements): the full gradient
    # around the block is written by `threads` parts that split the rows by bytes moved
    # (csrc/cpu/block_embed.cpp). Every entry must match the slicing reference, and those outside
    # the block be exactly zero.
    thread_count(threads)
    g = torch.Generator().manual_seed(6)
    if op == "linear":
        w = torch.randn(600, 300, generator=g, requires_grad=True)
        x = torch.randn(5, 170, generator=g)
        y, y_ref = (f(x, w, None, 410) for f in (dynamic_linear, reference.dynamic_linear))
        block = (slice(0, 410), slice(0, 170))
    else:
        w = torch.randn(256, 70, 3, 3, generator=g, requires_grad=True)
        x = torch.randn(3, 40, 9, 9, generator=g)
        options = dict(out_channels=190, padding=1)
        y = call_path(op, x, w, None, **options)
        y_ref = reference.dynamic_conv2d(x, w, None, **options)
        block = (slice(0, 190), slice(0, 40))
    grad = torch.randn_like(y_ref)
    (got,), (expected,) = (torch.autograd.grad(out, [w], grad) for out in (y, y_ref))
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-3)
    outside = torch.ones_like(got, dtype=torch.bool)
    outside[block] = False
    assert got[outside].eq(0).all() and got[outside].numel() > 0


def test_auto_path_choice_matches_both_paths():
    # batch 1 on 7x7 (few output pixels: gemm) and batch 8 on 14x14 (conv) give the same values
    # as the forced paths.
    g = torch.Generator().manual_seed(5)
    w = torch.randn(32, 32, 3, 3, generator=g)
    for n, hw in ((1, 7), (8, 14)):
        x = torch.randn(n, 16, hw, hw, generator=g)
        auto = call_path("auto", x, w, None, out_channels=16, padding=1)
        for algorithm in ("gemm", "conv"):
            # float32 sums of 144 products (outputs ~10) in different orders: ~1e-5 apart
            torch.testing.assert_close(auto, call_path(algorithm, x, w, None, out_channels=16,
                                                       padding=1), rtol=1e-4, atol=1e-4)


def test_bfloat16_close_to_float32():
    x, w, b, options = conv_inputs("half_width_3x3", torch.float32)
    y = dynamic_conv2d(x.bfloat16(), w.bfloat16(), b.bfloat16(), **options)
    torch.testing.assert_close(y.float(), reference.dynamic_conv2d(x, w, b, **options),
                               rtol=0.05, atol=0.3)


@pytest.mark.parametrize("algorithm", ["gemm", "conv"])
def test_half_precision_gradients_close_to_float32(algorithm):
    # gemm: bfloat16 / float16 columns come from at::im2col / at::col2im (the route other devices
    # take), not razor's float kernels: same layout, same values. Both paths write the full weight
    # gradient around the block bytewise (csrc/cpu/block_embed.cpp): 2-byte elements, and the
    # entries outside the block exactly zero.
    x, w, b, options = conv_inputs("stride_dilation", torch.float32)
    y_ref = reference.dynamic_conv2d(x, w, b, **options)
    grad = torch.randn_like(y_ref)
    expected = torch.autograd.grad(y_ref, [x, w, b], grad)
    for dtype in (torch.bfloat16, torch.float16):
        low = [t.detach().to(dtype).requires_grad_() for t in (x, w, b)]
        y = call_path(algorithm, *low, **options)
        torch.testing.assert_close(y.float(), y_ref, rtol=0.05, atol=0.3)
        got = torch.autograd.grad(y, low, grad.to(dtype))
        for a, e in zip(got, expected):
            torch.testing.assert_close(a.float(), e, rtol=0.05, atol=0.5)
            assert a[e == 0].eq(0).all()


def test_no_grad_call():
    x, w, b, options = conv_inputs("half_width_3x3")
    with torch.no_grad():
        y = dynamic_conv2d(x, w, b, **options)
    assert not y.requires_grad
    torch.testing.assert_close(y, reference.dynamic_conv2d(x, w, b, **options).detach())


# ---- errors ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "change, error, match",
    [
        (dict(out_channels=13), ValueError, r"out_channels must be in \[1, 12\]"),
        (dict(out_channels=0), ValueError, "out_channels must be in"),
        (dict(x_channels=11), ValueError, "input has 11 channels but weight has only 10"),
        (dict(kernel_size=2), ValueError, "kernel_size must be odd|must be odd"),
        (dict(kernel_size=5), ValueError, r"kernel_size must be in \[1, 3\]"),
        (dict(x_dim=3), ValueError, "input must be 4-D"),
        (dict(w_dim=3), ValueError, "weight must be 4-D"),
        (dict(bias_size=5), ValueError, r"bias must have shape \(12,\)"),
        (dict(groups=2), ValueError, "groups must be 1 or equal to input channels"),
        (dict(stride=0), ValueError, "stride must be 2 values >= 1"),
        (dict(padding=(1, 2, 3)), ValueError, "padding must be an int or 2 ints"),
        (dict(padding=-1), ValueError, "padding must be 2 values >= 0"),
        (dict(hw=1, padding=0), ValueError, "smaller than the dilated kernel"),
        (dict(w_dtype=torch.float32), TypeError, "weight has dtype torch.float32"),
        (dict(x_dtype=torch.int64), TypeError, "input must be float32"),
        (dict(out_channels=2.0), TypeError, "out_channels must be an int or None"),
        (dict(groups=True), TypeError, "groups must be an int"),
    ],
)
def test_conv_bad_input(change, error, match):
    change = dict(change)
    x = torch.randn(2, change.pop("x_channels", 5), *(2 * [change.pop("hw", 6)]),
                    dtype=torch.float64)
    if change.pop("x_dim", 4) == 3:
        x = x[0]
    x = x.to(change.pop("x_dtype", torch.float64))
    w = torch.randn(12, 10, 3, 3, dtype=change.pop("w_dtype", torch.float64))
    if change.pop("w_dim", 4) == 3:
        w = w[0]
    b = torch.randn(change.pop("bias_size", 12), dtype=torch.float64)
    options = dict(out_channels=6, padding=1)
    options.update(change)
    with pytest.raises(error, match=match):
        dynamic_conv2d(x, w, b, **options)


def test_depthwise_bad_input():
    x = torch.randn(2, 6, 5, 5)
    with pytest.raises(ValueError, match="depthwise out_channels must equal input channels"):
        dynamic_conv2d(x, torch.randn(8, 1, 3, 3), out_channels=7, groups=6)
    with pytest.raises(ValueError, match="depthwise weight has only 4"):
        dynamic_conv2d(x, torch.randn(4, 1, 3, 3), groups=6)
    with pytest.raises(ValueError, match=r"needs weight of shape \(O, 1, K, K\)"):
        dynamic_conv2d(x, torch.randn(8, 2, 3, 3), groups=6)


def test_op_checks_in_cpp_too():
    # Direct op calls skip the Python checks: the C++ op must reject bad input itself.
    x, w = torch.randn(2, 5, 6, 6), torch.randn(12, 4, 3, 3)
    with pytest.raises(ValueError, match="input has 5 channels but weight has only 4"):
        torch.ops.razor_ext.dynamic_conv2d(x, w, None, None, [1, 1], [1, 1], [1, 1], 1, None, "auto")
    with pytest.raises(ValueError, match="kernel_size must be in"):
        torch.ops.razor_ext.dynamic_conv2d(x, torch.randn(4, 5, 3, 3), None, None, [1, 1], [1, 1],
                                           [1, 1], 1, 5, "auto")
    with pytest.raises(ValueError, match="algorithm must be 'auto', 'gemm' or 'conv'"):
        torch.ops.razor_ext.dynamic_conv2d(x, torch.randn(4, 5, 3, 3), None, None, [1, 1], [1, 1],
                                           [1, 1], 1, None, "fast")
    with pytest.raises(ValueError, match="'gemm' needs"):
        torch.ops.razor_ext.dynamic_conv2d(x, torch.randn(4, 5, 5, 5), None, None, [1, 1], [1, 1],
                                           [1, 1], 1, 3, "gemm")
    with pytest.raises(ValueError, match="grad_output must have the output's shape"):
        torch.ops.razor_ext.dynamic_conv2d_backward(torch.randn(2, 4, 5, 5), x,
                                                    torch.randn(4, 5, 3, 3), None, [1, 1], [1, 1],
                                                    [1, 1], 1, None, "auto", [True, True, False])


# ---- opcheck, gradcheck, compile ---------------------------------------------------------------

@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", ["half_width_3x3", "pointwise", "crop_5_to_3", "depthwise_crop"])
def test_conv_opcheck(case, algorithm):
    x, w, b, o = conv_inputs(case, torch.float32, batch=2, hw=(6, 5))
    if algorithm == "gemm" and not gemm_applies(w, o):
        pytest.skip("gemm needs groups=1 and the full kernel")
    pair = lambda v: [v, v] if isinstance(v, int) else list(v)  # noqa: E731
    args = (x, w, b, o["out_channels"], pair(o["stride"]), pair(o["padding"]), pair(o["dilation"]),
            o["groups"], o["kernel_size"], algorithm)
    torch.library.opcheck(torch.ops.razor_ext.dynamic_conv2d.default, args)


def forward_args(case, algorithm, dtype=torch.float32, batch=2, hw=(6, 5)):
    """Arguments of _dynamic_conv2d_forward (an op below autograd: inputs do not require grad)."""
    x, w, b, o = conv_inputs(case, dtype, batch=batch, hw=hw)
    pair = lambda v: [v, v] if isinstance(v, int) else list(v)  # noqa: E731
    return (x.detach(), w.detach(), b.detach(), o["out_channels"], pair(o["stride"]),
            pair(o["padding"]), pair(o["dilation"]), o["groups"], o["kernel_size"], algorithm)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_forward_keeps_what_its_fake_says(case, algorithm):
    # _dynamic_conv2d_forward's second output (what the backward reuses) has a shape that depends
    # on the path; opcheck compares it with the fake impl's (kept_shape).
    args = forward_args(case, algorithm)
    if algorithm == "gemm" and not gemm_applies(args[1], conv_inputs(case)[3]):
        pytest.skip("gemm needs groups=1 and the full kernel")
    torch.library.opcheck(torch.ops.razor_ext._dynamic_conv2d_forward.default, args)
    output, _ = torch.ops.razor_ext._dynamic_conv2d_forward(*args)
    torch.testing.assert_close(output, torch.ops.razor_ext.dynamic_conv2d(*args))


def test_forward_below_autograd_only():
    x, w, b, *options = forward_args("half_width_3x3", "auto")
    with pytest.raises(RuntimeError, match="call dynamic_conv2d"):
        torch.ops.razor_ext._dynamic_conv2d_forward(x, w.requires_grad_(), b, *options)


@pytest.mark.parametrize(("batch", "hw", "path"), [
    (8, (5, 5), "gemm"), (9, (5, 5), "conv"), (1, (14, 14), "gemm"), (1, (15, 14), "conv")])
def test_auto_path_boundary_agrees_with_the_fake(batch, hw, path):
    # 'auto' switches to the conv path past 200 output pixels (kGemmMaxColumns in C++,
    # GEMM_MAX_COLUMNS in the fake impl): on both sides of it the kernel keeps what the fake says.
    args = forward_args("half_width_3x3", "auto", batch=batch, hw=hw)
    output, kept = torch.ops.razor_ext._dynamic_conv2d_forward(*args)
    columns = (args[0].shape[1] * 9, batch * hw[0] * hw[1])
    assert kept.shape == (columns if path == "gemm" else (6, 5, 3, 3))
    torch.library.opcheck(torch.ops.razor_ext._dynamic_conv2d_forward.default, args)


@pytest.mark.parametrize(("case", "algorithm", "kept"), [
    ("half_width_3x3", "gemm", "columns"), ("half_width_3x3", "conv", "weight block"),
    ("crop_5_to_3", "conv", "weight block"), ("pointwise", "gemm", "nothing"),
    ("all_in_channels", "conv", "nothing"), ("depthwise", "conv", "nothing")])
def test_backward_with_saved_equals_recomputing(case, algorithm, kept):
    args = forward_args(case, algorithm, torch.float64)
    x, w, _, out_channels, _, _, _, groups, k, _ = args
    output, saved = torch.ops.razor_ext._dynamic_conv2d_forward(*args)
    n, o, height, width = output.shape
    k = k or w.shape[-1]
    expected = {"columns": (x.shape[1] * w.shape[-1] ** 2, n * height * width),
                "weight block": (o, x.shape[1] if groups == 1 else 1, k, k),
                "nothing": (0,)}[kept]
    assert saved.shape == expected
    grad = torch.randn_like(output)
    backward = torch.ops.razor_ext.dynamic_conv2d_backward
    with_saved = backward(grad, x, w, *args[3:], [True, True, True], saved)
    recomputed = backward(grad, x, w, *args[3:], [True, True, True])
    for a, b in zip(with_saved, recomputed):
        torch.testing.assert_close(a, b)


def test_backward_rejects_a_saved_tensor_of_the_wrong_shape():
    args = forward_args("half_width_3x3", "conv")
    output, saved = torch.ops.razor_ext._dynamic_conv2d_forward(*args)
    with pytest.raises(ValueError, match="saved must be what _dynamic_conv2d_forward kept"):
        torch.ops.razor_ext.dynamic_conv2d_backward(torch.ones_like(output), args[0], args[1],
                                                    *args[3:], [True, True, False], saved[:, :-1])


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_conv_opcheck_channels_last_input(algorithm):
    # The backend may answer a channels-last input in channels-last; the op promises contiguous.
    x, w, b, _ = conv_inputs("half_width_3x3", torch.float32, batch=2, hw=(6, 5))
    x = x.detach().to(memory_format=torch.channels_last).requires_grad_()
    args = (x, w, b, 6, [1, 1], [1, 1], [1, 1], 1, None, algorithm)
    torch.library.opcheck(torch.ops.razor_ext.dynamic_conv2d.default, args)
    assert torch.ops.razor_ext.dynamic_conv2d(*args).is_contiguous()


@pytest.mark.parametrize("case", ["half_width_3x3", "pointwise_strided", "stride_dilation",
                                  "crop_5_to_3", "depthwise_crop"])
@pytest.mark.parametrize("algorithm", ["gemm", "conv"])
def test_conv_gradcheck(case, algorithm):
    x, w, b, options = conv_inputs(case, batch=2, hw=(5, 4))
    if algorithm == "gemm" and not gemm_applies(w, options):
        pytest.skip("gemm needs groups=1 and the full kernel")
    assert torch.autograd.gradcheck(lambda *t: call_path(algorithm, *t, **options), (x, w, b))


def test_conv_compiles_with_dynamic_shapes_across_both_paths():
    # With symbolic batch sizes the kept tensor's shape (im2col columns on the gemm path up to 200
    # output pixels, nothing on the conv path beyond) is decided by guards in the fake impl.
    g = torch.Generator().manual_seed(3)
    w = torch.randn(12, 10, 3, 3, generator=g, requires_grad=True)
    b = torch.randn(12, generator=g, requires_grad=True)

    def step(x, w, b):
        return torch.relu(dynamic_conv2d(x, w, b, out_channels=6, padding=1)).sum()

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager", dynamic=True)
    for n in (2, 4, 16):  # 50 and 100 output pixels (gemm), then 400 (conv)
        x = torch.randn(n, 5, 5, 5, generator=g, requires_grad=True)
        got = torch.autograd.grad(compiled(x, w, b), [x, w, b])
        expected = torch.autograd.grad(torch.relu(reference.dynamic_conv2d(
            x, w, b, out_channels=6, padding=1)).sum(), [x, w, b])
        for a, e in zip(got, expected):
            torch.testing.assert_close(a, e)


def test_conv_compiles_fullgraph():
    x, w, b, options = conv_inputs("crop_5_to_3", torch.float32)

    @torch.compile(fullgraph=True, backend="aot_eager")
    def step(x, w, b):
        return torch.relu(dynamic_conv2d(x, w, b, **options)).sum()

    step(x, w, b).backward()
    expected = torch.autograd.grad(torch.relu(reference.dynamic_conv2d(x, w, b, **options)).sum(),
                                   [x, w, b])
    for got, e in zip((x.grad, w.grad, b.grad), expected):
        torch.testing.assert_close(got, e)


# ---- dynamic_linear ------------------------------------------------------------------------------

def linear_inputs(shape=(4, 6), features=7, weight=(9, 10), dtype=torch.float64, bias=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(*shape, features, generator=g, dtype=dtype, requires_grad=True)
    w = torch.randn(*weight, generator=g, dtype=dtype, requires_grad=True)
    b = torch.randn(weight[0], generator=g, dtype=dtype, requires_grad=True) if bias else None
    return x, w, b


def assert_linear_matches(x, w, b, out_features, tol=None):
    tol = tol or {}
    y = dynamic_linear(x, w, b, out_features)
    y_ref = reference.dynamic_linear(x, w, b, out_features)
    assert y.shape == y_ref.shape
    torch.testing.assert_close(y, y_ref, **tol)
    leaves = [t for t in (x, w, b) if t is not None and t.requires_grad]
    grad = torch.randn_like(y_ref)
    for g, e in zip(torch.autograd.grad(y, leaves, grad), torch.autograd.grad(y_ref, leaves, grad)):
        torch.testing.assert_close(g, e, **tol)


@pytest.mark.parametrize("out_features", [None, 1, 5, 9])
@pytest.mark.parametrize("features", [1, 7, 10])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_linear_matches_reference(out_features, features, dtype):
    assert_linear_matches(*linear_inputs(features=features, dtype=dtype), out_features)


def test_linear_shapes_and_layouts():
    x, w, b = linear_inputs(shape=(), features=7)  # 1-D input
    assert_linear_matches(x, w, b, 4)
    x, w, b = linear_inputs(shape=(0, 3))  # empty
    assert_linear_matches(x, w, b, 4)
    w_t = torch.randn(10, 9, dtype=torch.float64).t().requires_grad_()  # non-contiguous weight
    x_nc = torch.randn(7, 5, dtype=torch.float64).t().requires_grad_()  # non-contiguous input
    assert_linear_matches(x_nc, w_t, None, 6)
    x, w, b = linear_inputs(shape=(64, 3), features=300, weight=(512, 384), dtype=torch.float32)
    assert_linear_matches(x, w, b, 200, dict(rtol=1e-4, atol=1e-4))


def test_linear_grad_zero_outside_block_and_partial_grads():
    x, w, b = linear_inputs()
    dynamic_linear(x, w, b, 5).sum().backward()
    assert w.grad[5:].eq(0).all() and w.grad[:, 7:].eq(0).all() and b.grad[5:].eq(0).all()
    x, w, b = linear_inputs()
    x.requires_grad_(False)
    b.requires_grad_(False)
    assert_linear_matches(x, w, b, 5)


def test_linear_bad_input():
    x, w, b = linear_inputs()
    with pytest.raises(ValueError, match=r"out_features must be in \[1, 9\]"):
        dynamic_linear(x, w, b, 10)
    with pytest.raises(ValueError, match="input has 11 features but weight has in_features 10"):
        dynamic_linear(torch.randn(2, 11, dtype=torch.float64), w)
    with pytest.raises(ValueError, match="weight must be 2-D"):
        dynamic_linear(x, w[None])
    with pytest.raises(ValueError, match=r"bias must have shape \(9,\)"):
        dynamic_linear(x, w, b[:3])
    with pytest.raises(TypeError, match="weight has dtype torch.float32"):
        dynamic_linear(x, w.float())
    with pytest.raises(TypeError, match="out_features must be an int or None"):
        dynamic_linear(x, w, None, 2.5)
    with pytest.raises(ValueError, match="out_features must be in"):
        torch.ops.razor_ext.dynamic_linear(x, w, None, 0)


def test_linear_opcheck_gradcheck_compile():
    x, w, b = linear_inputs(shape=(3,), features=5, weight=(6, 8))
    torch.library.opcheck(torch.ops.razor_ext.dynamic_linear.default, (x, w, b, 4))
    torch.library.opcheck(torch.ops.razor_ext.dynamic_linear.default, (x, w, None, None))
    assert torch.autograd.gradcheck(lambda *t: dynamic_linear(*t, 4), (x, w, b))

    @torch.compile(fullgraph=True, backend="aot_eager")
    def step(x, w, b):
        return dynamic_linear(x, w, b, 4).tanh().sum()

    step(x, w, b).backward()
    expected = torch.autograd.grad(reference.dynamic_linear(x, w, b, 4).tanh().sum(), [x, w, b])
    for got, e in zip((x.grad, w.grad, b.grad), expected):
        torch.testing.assert_close(got, e)


def test_fake_impls_check_like_the_op():
    # Traced calls (meta / fake tensors) meet the Python checks of the fake impls.
    x, w = torch.randn(2, 5, 6, 6, device="meta"), torch.randn(12, 10, 3, 3, device="meta")
    args = ([1, 1], [1, 1], [1, 1], 1)
    assert torch.ops.razor_ext.dynamic_conv2d(x, w, None, 6, *args, 3, "auto").shape == (2, 6, 6, 6)
    with pytest.raises(ValueError, match=r"out_channels must be in \[1, 12\]"):
        torch.ops.razor_ext.dynamic_conv2d(x, w, None, 13, *args, None, "auto")
    with pytest.raises(ValueError, match="kernel_size must be in"):
        torch.ops.razor_ext.dynamic_conv2d(x, w, None, 6, *args, 5, "auto")
    with pytest.raises(ValueError, match="algorithm must be 'auto', 'gemm' or 'conv'"):
        torch.ops.razor_ext.dynamic_conv2d(x, w, None, 6, *args, None, "fast")
    with pytest.raises(ValueError, match="'gemm' needs groups=1, the full kernel"):
        torch.ops.razor_ext._dynamic_conv2d_forward(x, w, None, 6, *args, 1, "gemm")
    with pytest.raises(ValueError, match="input has 11 features"):
        torch.ops.razor_ext.dynamic_linear(torch.randn(2, 11, device="meta"),
                                           torch.randn(4, 10, device="meta"), None, None)
