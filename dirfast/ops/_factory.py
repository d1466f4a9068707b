"""One factory for every differentiable op's wiring: the registered op ``dirfast::<name>``, its fake
(meta) implementation, its backward op ``dirfast::<name>_bwd``, the autograd formula of the
registered op, and the op's **eager twin** (a ``torch.autograd.Function``).

Why two front doors: ``torch.compile`` must see a registered op (``torch.library.custom_op``: traced
without a graph break, its fake implementation gives the shapes), but an eager call through a
registered op pays its Python dispatch (~50 µs per forward + backward on the CI machine, more than a
whole small-batch loss). Eager calls therefore go through the twin, which runs the same forward
implementation and the same backward formula without the dispatcher. The two must never drift:
this factory builds both from one ``save`` and one ``grads`` function per op.

Contract of an op module (see :func:`register_op`):

* ``fwd(*inputs)`` (type-annotated: the op schema is inferred from it) returns one tensor or a tuple
  whose first ``eager_outputs`` entries are what the user sees and the rest auxiliary tensors for the
  backward (marked non-differentiable);
* ``save(ctx, inputs, outputs, eager)`` stores what the backward needs (``outputs`` always a tuple);
* ``grads(ctx, grad_outputs, bwd, eager)`` returns the gradients of the leading inputs (the factory
  pads the rest with ``None``); ``bwd`` is the registered backward op for the registered op (so a
  traced backward stays traceable) and its plain implementation for the eager twin;
* the eager twin's ``apply`` takes the first ``n_tensors`` inputs followed by **one tuple** holding the
  remaining (non-tensor) ones — ``Function.apply`` walks every argument (~0.6 µs each), and an op has
  up to a dozen configuration scalars.

Both front doors disable the materialisation of gradients of unused outputs (``grads`` receives
``None`` for them: no ``zeros`` launch per backward).
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import torch


class OpWiring(NamedTuple):
    op: object  #: the registered ``dirfast::<name>`` (``torch.library.CustomOpDef``)
    bwd_op: Optional[object]  #: the registered ``dirfast::<name>_bwd``, or None
    Function: type  #: the eager twin (``torch.autograd.Function``)


def register_op(name: str, fwd: Callable, fake: Callable, *, save: Callable, grads: Callable,
                bwd: Optional[Callable] = None, bwd_fake: Optional[Callable] = None,
                n_tensors: int, eager_outputs: int = 1, doc: str = "") -> OpWiring:
    """Register ``dirfast::<name>`` (and ``dirfast::<name>_bwd`` when ``bwd`` is given) and build the
    eager twin ``<Name>Function``; see the module docstring for ``fwd``/``save``/``grads``."""
    op = torch.library.custom_op(f"dirfast::{name}", mutates_args=())(fwd)
    op.register_fake(fake)
    bwd_op = None
    if bwd is not None:
        bwd_op = torch.library.custom_op(f"dirfast::{name}_bwd", mutates_args=())(bwd)
        bwd_op.register_fake(bwd_fake)

    def setup_context(ctx, inputs, output):
        outs = output if isinstance(output, tuple) else (output,)
        if len(outs) > eager_outputs:
            ctx.mark_non_differentiable(*outs[eager_outputs:])
        ctx.set_materialize_grads(False)
        ctx.n_inputs = len(inputs)
        save(ctx, inputs, outs, False)

    def backward(ctx, *grad_outputs):
        g = tuple(grads(ctx, grad_outputs, bwd_op, False))
        return g + (None,) * (ctx.n_inputs - len(g))

    op.register_autograd(backward, setup_context=setup_context)

    def eager_forward(ctx, *args):
        inputs = args[:n_tensors] + tuple(args[n_tensors])
        out = fwd(*inputs)
        outs = out if isinstance(out, tuple) else (out,)
        ctx.set_materialize_grads(False)
        ctx.n_inputs = len(args)
        save(ctx, inputs, outs, True)
        return outs[0] if eager_outputs == 1 else outs[:eager_outputs]

    def eager_backward(ctx, *grad_outputs):
        g = tuple(grads(ctx, grad_outputs, bwd, True))
        return g + (None,) * (ctx.n_inputs - len(g))

    cls_name = "".join(p.title() for p in name.split("_")) + "Function"
    Function = type(cls_name, (torch.autograd.Function,), {
        "__doc__": doc or (f"Eager twin of ``dirfast::{name}``: the same forward implementation and "
                           "backward formula, without the registered op's dispatch cost. "
                           f"``apply(*tensors[:{n_tensors}], rest)`` with the op's remaining "
                           "arguments as one tuple."),
        "__module__": fwd.__module__,
        "forward": staticmethod(eager_forward),
        "backward": staticmethod(eager_backward),
    })
    return OpWiring(op, bwd_op, Function)
