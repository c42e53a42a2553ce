"""Convolution layers with PyTorch's weight semantics and fast gradients on CPU.

:func:`upsample_conv` is PyTorch's ``ConvTranspose2d(kernel_size=4, stride=2,
padding=1)``, which doubles the side of a feature map: output row ``o``
receives ``x[i] * w[k]`` for every ``o = 2 i + k - 1``. The kernel is stored as
``[4, 4, in, out]`` with PyTorch's tap order, so a PyTorch weight ``w`` copies
over as ``w.permute(2, 3, 0, 1)``.

Why not ``flax.linen.ConvTranspose``: XLA lowers a transposed convolution to a
convolution over a zero-dilated input, and on CPU the gradient with respect to
its kernel takes a slow generic path. The default ``impl="conv"`` writes the
backward pass by hand: a transposed convolution is the input gradient of a
strided convolution, so its input gradient is that strided convolution and its
kernel gradient is the strided convolution's kernel gradient. The same three
maps serve the discriminator's ``Conv2d(k=4, s=2, p=1)``, and each takes the
form that XLA:CPU runs fastest, found by profiling the DCGAN-64 step
(``jax.profiler``, op by op):

- the transposed convolution, by the input's larger side: at 4, one matrix
  product to every pixel's 4x4 output patch, the patches added where they
  overlap; at 8, four stride-1 convolutions, one per output phase (both
  measured with the compiler options below, and used with or without them);
  otherwise, from an output side of 16, the *phase form*, one stride-1
  convolution with a 2x2 kernel that makes the four output phases (even or
  odd row, even or odd column) as 4x the channels, then depth-to-space, and
  below it the dilated form. The phase form reads no inserted zeros; the
  dilated form reads 3 zeros for every input value;
- the kernel gradient, for an input of up to 4 channels (an image): four
  matrix products over the input folded space-to-depth.

Measured on a 2-core Intel Xeon CI machine at batch 64 (``jit``, forward /
input gradient / kernel gradient of the upsampling layer, ms; the first
numbers are the dilated form and whole-batch kernel gradients used before;
both columns with XLA's default YNNPACK convolutions, and the second with the
kernel gradients from a side of 32 summed over chunks of four examples, which
YNNPACK ran two to three times faster than the whole batch):

=======================  =================  ===============
layer                    before             ``"conv"``, 12-04
=======================  =================  ===============
4x4x512 -> 8x8x256       22 / 22 / 22       21 / 22 / 22
8x8x256 -> 16x16x128     34 / 21 / 26       20 / 21 / 27
16x16x128 -> 32x32x64    60 / 24 / 62       27 / 21 / 30
32x32x64 -> 64x64x3      6 / 4 / 16         5 / 3 / 5
=======================  =================  ===============

XLA's own kernel gradient of the dilated form (``"xla"``) took about 1 s at
each of the middle layers on the first machine measured (an AMD EPYC).
``"subpixel"`` computes the four phases as four separate stride-1
convolutions and interleaves them, at every layer (with YNNPACK's
convolutions it was slower on CPU at every layer; ``"conv"`` now takes that
form at side 8 only). All three give the same values and gradients (tested).

Per backend. The hand-written gradients answer XLA:CPU's layouts; another
backend may do better with XLA's own (``"xla"``: plain ``lax`` convolutions
and JAX's derivative rules, cuDNN's kernels on a GPU). ``impl="auto"``, the
modules' default, reads :data:`BACKEND_IMPLS` for ``jax.default_backend()``
when the module is traced; nothing is timed at start-up. Its entries:

- ``cpu``: ``"conv"``, measured (the table above; the whole DCGAN step 30
  times faster than with XLA's own gradients inside a scan).
- ``gpu`` and ``tpu``: ``"xla"``, not yet measured: no GPU was at hand when
  the table was written. ``benchmarks/gpu_suite.sh`` times both
  (``jaxgan-bench --conv_impl conv`` and ``xla``); put the faster here.

A config's ``conv_impl`` (or a module's ``impl``) overrides the table.

Compiler options. jaxlib 0.10's XLA:CPU hands convolutions to YNNPACK by
default. XLA's own convolution kernels (Eigen's) run DCGAN's faster, so
jaxgan's programs compile with :func:`compiler_options`, which on CPU keeps
YNNPACK for dots and reductions only (:data:`BACKEND_COMPILER_OPTIONS`; its
other option, for loops, is described below). The
train step at batch 64 on a 2-core AMD EPYC, ms per step with XLA's defaults
and with the options (the two compiled programs alternating in one process,
median of 6 scanned calls): dcgan64 1,151 -> 1,002, dcgan32 198 -> 167,
dcgan28 88 -> 78, the ring MLP (dots only) 0.74 -> 0.75. With Eigen's
convolutions the chunked kernel gradient no longer paid (the dcgan64 step
1,054 ms chunked, 1,017 ms whole), so it is gone.

Eigen's convolutions against PyTorch's (oneDNN) on the same machine, the
discriminator's layers at batch 64, forward / input gradient / kernel
gradient, ms:

========================  ====================  ====================
layer                     jaxgan                PyTorch 2.13
========================  ====================  ====================
64x64x3 -> 32x32x64       5.1 / 5.8 / 6.1       13.2 / 14.4 / 3.4
32x32x64 -> 16x16x128     22.0 / 30.6 / 27.4    20.0 / 39.9 / 20.8
16x16x128 -> 8x8x256      21.7 / 26.8 / 23.6    17.8 / 21.7 / 19.3
8x8x256 -> 4x4x512        20.6 / 27.6 / 23.0    18.0 / 20.1 / 22.6
========================  ====================  ====================

The forms of the transposed convolution were timed again with Eigen's
kernels, each layer alone (ms, batch 64; PyTorch's ``conv_transpose2d``
beside them):

=====================  =====  =======  ========  ==============  =======
input                  phase  dilated  subpixel  matrix product  PyTorch
=====================  =====  =======  ========  ==============  =======
4x4x512 -> 256         37.4   25.4     24.1      22.4            19.8
8x8x256 -> 128         26.1   42.8     23.1      34.8            20.8
16x16x128 -> 64        29.3   66.7     28.5      64.6            23.4
32x32x64 -> 3          6.0    5.3      50.8      4.5             14.4
=====================  =====  =======  ========  ==============  =======

and then inside the step, the compiled programs alternating in one process
(median of 6 rounds of 3 scanned steps, ms): the earlier choices 1,003, the
matrix product at side 4 991, the subpixel form at side 8 986, both 965 and
971 in two runs (kept: :data:`_TRANSPOSED_FORMS`); the subpixel form at side
16 as well 997, and at every side 1,033-1,045 against 1,023-1,025. On
DCGAN-28 (sides 7 and 14) the subpixel or product form was slower, so other
sides keep the phase and dilated forms. The space-to-depth form of the
strided convolution and of its kernel gradient lost at every layer.

The options also turn on copy insertion with region analysis. Without it,
XLA:CPU copies much of a ``lax.scan``'s carry at every iteration: Adam's
parameter update recomputes each new first moment from the old one, so the old
one must outlive the new one's write. The ring MLP's scanned step then has 61
copies in its loop body, 31 of them parameters and moments; with it, 30, all
of them a few bytes of the noise draws' keys. On a 2-core Intel Xeon (jax
0.10.2; one-off scripts, not recorded: the programs without and with the
option alternating in one process; the median of 9 calls of 200 steps for the
ring MLP, of 6 or 7 calls of 3 to 10 steps for the others) the ring step
went 0.762 -> 0.698 ms and 0.723 -> 0.663 ms in two runs; DCGAN-64 734 -> 724
ms, DCGAN-32 140 -> 133, DCGAN-28 60.4 -> 60.9 and WGAN-GP 759 -> 764 (the
same within the runs' spread). Every program computed the same bits without
and with it, and so did the fit loop: 500 steps of the default experiment
logged the same metrics and drew the same sample grid, byte for byte. Compile
times did not change (DCGAN-64's scanned step, the best of 3 compiles: 3.5 s
without, 3.3 s with). The recorded benchmark with it is in
``benchmarks/results/README.md``.
"""

from __future__ import annotations

import functools
from types import MappingProxyType

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def _conv(x, kernel, strides, padding, lhs_dilation=(1, 1)):
    return lax.conv_general_dilated(x, kernel, strides, padding, lhs_dilation=lhs_dilation,
                                    dimension_numbers=_DIMENSIONS)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3, 4, 5))
def _dilated_conv(x, kernel, strides, padding, lhs_dilation, rhs_dilation):
    """``lax.conv_general_dilated`` in NHWC/HWIO whose every derivative stays NHWC/HWIO.

    The backward pass is this function again (on transposed operands), so
    gradients of gradients (R1, WGAN-GP) keep the fast layout too.
    """
    return lax.conv_general_dilated(x, kernel, strides, padding, lhs_dilation=lhs_dilation,
                                    rhs_dilation=rhs_dilation, dimension_numbers=_DIMENSIONS)


def _dilated_conv_fwd(x, kernel, strides, padding, lhs_dilation, rhs_dilation):
    return _dilated_conv(x, kernel, strides, padding, lhs_dilation, rhs_dilation), (x, kernel)


def _dilated_conv_bwd(strides, padding, lhs_dilation, rhs_dilation, residuals, grad_out):
    x, kernel = residuals
    if (kernel.shape[:2] == (4, 4) and tuple(strides) == (2, 2) and padding == ((1, 1), (1, 1))
            and lhs_dilation == rhs_dilation == (1, 1) and x.shape[1] % 2 == x.shape[2] % 2 == 0):
        # DCGAN's downsampling: its input gradient is the transposed
        # convolution, faster in phase form than dilated (module docstring).
        grad_x = _transposed_conv(grad_out, kernel.transpose(0, 1, 3, 2))
        if x.shape[-1] <= _PRODUCT_MAX_CHANNELS:
            return grad_x, _product_kernel_gradient(x, grad_out)
        return grad_x, _kernel_gradient(x, grad_out, strides, padding, lhs_dilation,
                                        rhs_dilation, (0, 0))
    dims = range(2)
    dilated = [(x.shape[1 + d] - 1) * lhs_dilation[d] + 1 for d in dims]
    span = [(kernel.shape[d] - 1) * rhs_dilation[d] + 1 for d in dims]
    # Input rows (columns) at the far edge that no output window reached.
    slack = [(dilated[d] + sum(padding[d]) - span[d]) % strides[d] for d in dims]
    # dx: the output gradient, dilated by the stride, convolved with the kernel
    # flipped in space and with its in/out channels swapped; then the rows that
    # the forward pass's input dilation inserted are dropped.
    grad_dilated = _dilated_conv(
        grad_out, jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2), (1, 1),
        tuple((span[d] - 1 - padding[d][0], span[d] - 1 - padding[d][1] + slack[d])
              for d in dims), tuple(strides), tuple(rhs_dilation))
    grad_x = grad_dilated[:, ::lhs_dilation[0], ::lhs_dilation[1]]
    return grad_x, _kernel_gradient(x, grad_out, strides, padding, lhs_dilation, rhs_dilation,
                                    slack)


# Input channels up to which the matrix-product kernel gradient beats the
# convolution on XLA:CPU (an image's 1 or 3; module docstring).
_PRODUCT_MAX_CHANNELS = 4


def _product_kernel_gradient(x: jax.Array, grad_out: jax.Array) -> jax.Array:
    """The kernel gradient of ``Conv2d(k=4, s=2, p=1)`` as four matrix products.

    Padded by one and folded space-to-depth (2x2 blocks into channels), the
    convolution reads a 2x2 window of blocks; for each window offset the
    gradient is that window's blocks times the output gradient, summed over
    batch and positions.
    """
    batch, height, width, channels = x.shape
    rows, cols, outputs = grad_out.shape[1:]
    blocks = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0))).reshape(
        batch, rows + 1, 2, cols + 1, 2, channels).transpose(0, 1, 3, 2, 4, 5).reshape(
        batch, rows + 1, cols + 1, 4 * channels)
    flat_grad = grad_out.reshape(-1, outputs)
    per_offset = jnp.stack([
        blocks[:, i:i + rows, j:j + cols].reshape(-1, 4 * channels).T @ flat_grad
        for i in range(2) for j in range(2)])          # [(i, j), (p, q, C), O]
    # Tap (2 i + p, 2 j + q) of the 4x4 kernel.
    return per_offset.reshape(2, 2, 2, 2, channels, outputs).transpose(
        0, 2, 1, 3, 4, 5).reshape(4, 4, channels, outputs)


def _kernel_gradient(x, grad_out, strides, padding, lhs_dilation, rhs_dilation, slack):
    # dW: correlate the input with the output gradient over the batch: the
    # input's channels play the batch, its batch plays the channels.
    grad_kernel = _dilated_conv(
        x.transpose(3, 1, 2, 0), grad_out.transpose(1, 2, 0, 3), tuple(rhs_dilation),
        tuple((padding[d][0], padding[d][1] - slack[d]) for d in range(2)), tuple(lhs_dilation),
        tuple(strides))
    return grad_kernel.transpose(1, 2, 0, 3)


_dilated_conv.defvjp(_dilated_conv_fwd, _dilated_conv_bwd)


IMPLS = ("conv", "subpixel", "xla")
# The implementation that impl="auto" takes on each backend (module docstring).
BACKEND_IMPLS = MappingProxyType({"cpu": "conv", "gpu": "xla", "tpu": "xla"})


# XLA options that jaxgan's own programs compile with, per backend
# (:func:`compiler_options`; module docstring).
BACKEND_COMPILER_OPTIONS = MappingProxyType({
    # jaxlib 0.10's default YNNPACK set less its convolutions: they run in
    # XLA's own (Eigen) kernels instead; dots and reductions stay in YNNPACK.
    "cpu": MappingProxyType({
        "xla_cpu_experimental_ynn_fusion_type":
            "LIBRARY_FUSION_TYPE_REDUCE,LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT",
        # Copy insertion that looks into the loop body: a scanned step then
        # updates its carry (parameters, Adam's moments) in place instead of
        # copying it every iteration.
        "xla_cpu_copy_insertion_use_region_analysis": True}),
})


def compiler_options(backend: str | None = None) -> dict[str, str | bool]:
    """The XLA options of :data:`BACKEND_COMPILER_OPTIONS` for ``backend``
    (default: ``jax.default_backend()``), for ``jax.jit(...,
    compiler_options=...)`` or ``Lowered.compile(compiler_options=...)``.

    jaxgan's fit loop and benchmark compile with them; a program of your own
    that calls a jaxgan train step gets the same speed by passing them too.
    For the backend in use, an option that this XLA does not know (another
    jaxlib release) is left out and the others kept: the options only change
    speed, and a program compiled without them computes the same function.
    Options given here take precedence over the same option in ``XLA_FLAGS``.
    """
    current = jax.default_backend()
    options = dict(BACKEND_COMPILER_OPTIONS.get(backend or current, {}))
    if not options or (backend or current) != current:
        return options
    probe = jax.jit(lambda x: x + 1).lower(jnp.zeros(()))
    known = {}
    for name, value in options.items():
        try:  # a trivial program tells whether this XLA takes the option
            probe.compile(compiler_options={name: value})
        except Exception:  # noqa: BLE001 - jaxlib releases raise different types here
            continue
        known[name] = value
    return known


def resolve_impl(impl: str, backend: str | None = None) -> str:
    """``impl`` itself, or for ``"auto"`` :data:`BACKEND_IMPLS`'s entry for
    ``backend`` (default: ``jax.default_backend()``; ``"xla"`` where the table
    has none)."""
    if impl == "auto":
        return BACKEND_IMPLS.get(backend or jax.default_backend(), "xla")
    if impl not in IMPLS:
        raise ValueError(f"impl must be 'auto' or one of {', '.join(IMPLS)}, got {impl!r}")
    return impl


def conv2d(x: jax.Array, kernel: jax.Array, strides: tuple[int, int],
           padding: tuple[tuple[int, int], tuple[int, int]], impl: str = "conv") -> jax.Array:
    """A plain NHWC convolution (kernel HWIO) whose derivatives are NHWC convolutions too.

    The values are ``lax.conv_general_dilated``'s. The backward pass is written
    out because XLA:CPU leaves the convolutions of JAX's own gradient rules in a
    transposed layout when they sit inside a loop (``lax.scan``, which every
    multi-step call and the n-critic loop are): there they miss the fast
    convolution kernels and a DCGAN step ran 30 times slower (1.2 s instead of
    40 ms on the 2-core CI machine). Here the gradients, and their gradients in
    turn, are convolutions in the forward pass's own layout, with the
    transposes made explicit. ``impl="xla"`` (or ``"auto"`` where
    :data:`BACKEND_IMPLS` says so) leaves the derivatives to JAX; ``"subpixel"``
    only changes upsampling, so here it is ``"conv"``.
    """
    strides, padding = tuple(strides), tuple(map(tuple, padding))
    if resolve_impl(impl) == "xla":
        return _conv(x, kernel, strides, padding)
    return _dilated_conv(x, kernel, strides, padding, (1, 1), (1, 1))
# For output phase a (0 = even rows, 1 = odd rows), the kernel taps that meet
# rows m and m + 1 of the input padded by one on each side.
_PHASE_TAPS = np.array([[3, 1], [2, 0]])


def _strided_conv(u: jax.Array, v: jax.Array) -> jax.Array:
    """``Conv2d(k=4, s=2, p=1)``: the convolution whose input gradient is :func:`upsample_conv`."""
    return conv2d(u, v, (2, 2), ((1, 1), (1, 1)))


def _dilated_transposed_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    # A transposed convolution is a convolution of the 2x-dilated input with
    # the spatially flipped kernel, padded by k - 1 - p = 2.
    return _conv(x, kernel[::-1, ::-1], (1, 1), [(2, 2), (2, 2)], lhs_dilation=(2, 2))


def _phase_transposed_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    # The same map as one stride-1 convolution with no zeros in its input:
    # output row o = 2 m + p - 1 (phase p) takes input rows m - 1 and m, with
    # taps 2 + p and p. A 2x2 kernel makes all four phases at once (4 O
    # channels), and depth-to-space interleaves them.
    batch, height, width, inputs = x.shape
    outputs = kernel.shape[-1]
    # [t_h, p_h, t_w, p_w, I, O]: tap 2 (1 - t) + p meets input row m - 1 + t.
    phases = kernel.reshape(2, 2, 2, 2, inputs, outputs)[::-1, :, ::-1]
    phases = phases.transpose(0, 2, 4, 1, 3, 5).reshape(2, 2, inputs, 4 * outputs)
    y = _conv(x, phases, (1, 1), ((1, 1), (1, 1)))  # [B, H + 1, W + 1, (p_h, p_w, O)]
    y = y.reshape(batch, height + 1, width + 1, 2, 2, outputs).transpose(0, 1, 3, 2, 4, 5)
    return y.reshape(batch, 2 * height + 2, 2 * width + 2, outputs)[:, 1:-1, 1:-1]


def _subpixel_transposed_conv(x: jax.Array, kernel: jax.Array, conv=_conv) -> jax.Array:
    # Output phase (a, b) is a stride-1 convolution of the input padded by one
    # with the 2x2 kernel of the taps that reach it; the phases interleave.
    batch, height, width, _ = x.shape
    padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    rows = []
    for a in range(2):
        columns = []
        for b in range(2):
            phase_kernel = kernel[_PHASE_TAPS[a]][:, _PHASE_TAPS[b]]
            window = padded[:, a:a + height + 1, b:b + width + 1]
            columns.append(conv(window, phase_kernel, (1, 1), ((0, 0), (0, 0))))
        rows.append(jnp.stack(columns, axis=3))   # [B, H, W, 2 (column phase), O]
    out = jnp.stack(rows, axis=2)                 # [B, H, 2 (row phase), W, 2, O]
    return out.reshape(batch, 2 * height, 2 * width, kernel.shape[-1])


def _product_transposed_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    # One matrix product gives each input pixel's 4x4 patch of output (16 O
    # values); the patches then add where they overlap. Tap k = 2 a + p of
    # pixel i lands on output row 2 i + k - 1: in the output padded by one,
    # block row i + a, phase p.
    # The patches add in float32: in bfloat16, rounding each patch before the
    # overlaps add doubled the error of the other forms.
    batch, height, width, inputs = x.shape
    outputs = kernel.shape[-1]
    patches = jnp.matmul(x.reshape(-1, inputs),
                         kernel.transpose(2, 0, 1, 3).reshape(inputs, 16 * outputs),
                         preferred_element_type=jnp.float32
                         ).reshape(batch, height, width, 2, 2, 2, 2, outputs)  # [.., a, p, b, q, O]
    out = jnp.zeros((batch, height + 1, 2, width + 1, 2, outputs), jnp.float32)
    for a in range(2):
        for b in range(2):
            out = out.at[:, a:a + height, :, b:b + width].add(
                patches[:, :, :, a, :, b].transpose(0, 1, 3, 2, 4, 5))
    return out.reshape(batch, 2 * height + 2, 2 * width + 2, outputs)[:, 1:-1, 1:-1].astype(
        x.dtype)


# The form of the transposed convolution for an input of this side (the larger
# of height and width), measured inside the DCGAN-64 step with XLA's own
# convolutions (module docstring). Other sides: the phase form from an output
# side of 16, the dilated form below it.
_TRANSPOSED_FORMS = MappingProxyType({4: _product_transposed_conv,
                                      8: _subpixel_transposed_conv})
_PHASE_MIN_SIDE = 16


def _fast_transposed_conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    form = _TRANSPOSED_FORMS.get(max(x.shape[1:3]))
    if form is not None:
        return form(x, kernel)
    if 2 * min(x.shape[1:3]) >= _PHASE_MIN_SIDE:
        return _phase_transposed_conv(x, kernel)
    return _dilated_transposed_conv(x, kernel)


# The fast forward pass, with the backward pass below.
_transposed_conv = jax.custom_vjp(_fast_transposed_conv)


def _transposed_conv_fwd(x, kernel):
    return _fast_transposed_conv(x, kernel), (x, kernel)


def _transposed_conv_bwd(residuals, grad_out):
    # y = T(x, w) is the input gradient of the strided convolution C(u, v) with
    # v = w (in/out swapped), taken at output cotangent x. So dL/dx = C(dy, v),
    # and dL/dv is C's kernel gradient at input dy and output cotangent x: both
    # are ordinary strided convolutions, fast on every backend, and :func:`conv2d`
    # makes them differentiable again.
    x, kernel = residuals
    grad_x, kernel_vjp = jax.vjp(lambda v: _strided_conv(grad_out, v),
                                 kernel.transpose(0, 1, 3, 2))
    (grad_v,) = kernel_vjp(x)
    return grad_x, grad_v.transpose(0, 1, 3, 2)


_transposed_conv.defvjp(_transposed_conv_fwd, _transposed_conv_bwd)


def upsample_conv(x: jax.Array, kernel: jax.Array, impl: str = "conv") -> jax.Array:
    """PyTorch's ``ConvTranspose2d(k=4, s=2, p=1)``: ``[B, H, W, I] -> [B, 2H, 2W, O]``.

    Args:
      x: NHWC feature map.
      kernel: ``[4, 4, I, O]`` in PyTorch's tap order (see the module docstring).
      impl: ``"conv"`` (the fastest form for the shape, module docstring,
        whose gradients are strided convolutions; the default),
        ``"subpixel"`` (four stride-1 convolutions), ``"xla"`` (the
        input-dilated convolution with XLA's own gradients) or
        ``"auto"`` (:data:`BACKEND_IMPLS`).
    """
    if kernel.shape[:2] != (4, 4):
        raise ValueError(f"upsample_conv needs a 4x4 kernel, got {kernel.shape}")
    impl = resolve_impl(impl)
    if impl == "conv":
        return _transposed_conv(x, kernel)
    if impl == "xla":
        return _dilated_transposed_conv(x, kernel)
    return _subpixel_transposed_conv(x, kernel, conv2d)


class UpsampleConv(nn.Module):
    """A learned 2x upsampling: :func:`upsample_conv` with its kernel, no bias."""

    features: int
    kernel_init: nn.initializers.Initializer = nn.initializers.normal(0.02)
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init, (4, 4, x.shape[-1], self.features))
        # One dtype for both (a bfloat16 input meets float32 parameters at init).
        x, kernel = nn.dtypes.promote_dtype(x, kernel)
        return upsample_conv(x, kernel, self.impl)


class Project(nn.Module):
    """A transposed convolution of a 1x1 input: ``z [B, I] -> [B, side, side, O]``.

    This is the DCGAN generator's first layer (PyTorch's
    ``ConvTranspose2d(I, O, side, 1, 0)`` on a ``1x1`` map): output pixel
    ``(h, w)`` is ``z @ kernel[h, w]``. Kernel ``[side, side, I, O]``, no bias.
    """

    features: int
    side: int
    kernel_init: nn.initializers.Initializer = nn.initializers.normal(0.02)

    @nn.compact
    def __call__(self, z: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init,
                            (self.side, self.side, z.shape[-1], self.features))
        z, kernel = nn.dtypes.promote_dtype(z, kernel)
        return jnp.einsum("bi,hwio->bhwo", z, kernel)


class Conv(nn.Module):
    """``nn.Conv`` without bias, computed by :func:`conv2d` (same kernel layout)."""

    features: int
    kernel_size: tuple[int, int]
    strides: tuple[int, int] = (1, 1)
    padding: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))
    kernel_init: nn.initializers.Initializer = nn.initializers.normal(0.02)
    impl: str = "auto"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        kernel = self.param("kernel", self.kernel_init,
                            (*self.kernel_size, x.shape[-1], self.features))
        x, kernel = nn.dtypes.promote_dtype(x, kernel)
        return conv2d(x, kernel, self.strides, self.padding, self.impl)


def with_batch_norm_axis(module: nn.Module, axis_name: str | None, **changes) -> nn.Module:
    """``module.clone(**changes)``, its BatchNorm statistics taken over the
    device axis ``axis_name`` where it has the ``batch_norm_axis_name``
    attribute that jaxgan's modules and wrappers have (the train step sets it
    under ``pmap``; a wrapper hands it on to the module it wraps). A module
    without the attribute, or ``axis_name=None``, keeps its own."""
    if axis_name is not None and hasattr(module, "batch_norm_axis_name"):
        changes["batch_norm_axis_name"] = axis_name
    return module.clone(**changes)


__all__ = ["BACKEND_COMPILER_OPTIONS", "BACKEND_IMPLS", "IMPLS", "Conv", "Project",
           "UpsampleConv", "compiler_options", "conv2d", "resolve_impl", "upsample_conv",
           "with_batch_norm_axis"]
