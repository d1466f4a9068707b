"""Registered differentiable ops (``torch.library.custom_op`` + ``register_fake`` + ``register_autograd``)
and their per-backend launch paths. Public entry points live in ``dirfast.functional``."""
