"""Each registry entry end to end: the autograd module, the fast kernels, numpy and the exported
script's source agree on a small input, so a new entry is checked by being listed."""

import numpy as np
import pytest
import torch
from torch import nn

from fitscope.core import config
from fitscope.core.engine import inside, kernels, model, registry
from fitscope.core.store import export

Z = torch.cat([torch.linspace(-6, 6, 49), torch.tensor([0.0, 25.0, -25.0])]).reshape(1, 1, -1)


@pytest.mark.parametrize("name", list(registry.ACTIVATIONS))
def test_activation_agrees_everywhere(name):
    entry = registry.ACTIVATIONS[name]
    assert name in config.ACTIVATIONS
    assert name in kernels.KERNELS
    assert (name in inside.KINKED) == entry.kinked
    module = model.ACTIVATION_MODULES[name]()
    exported = eval(export.ACTIVATIONS[name], {"nn": nn})  # the exported script's text, run
    z = Z.clone().requires_grad_()
    ref = module(z)
    g = torch.linspace(-1, 1, Z.numel()).reshape(Z.shape)
    (ref_grad,) = torch.autograd.grad(ref, z, g)
    fwd, bwd = kernels.KERNELS[name]
    a, dz = fwd(Z, torch.empty_like(Z)), torch.empty_like(Z)
    bwd(g, Z, a, dz)
    assert torch.equal(a, ref.detach()), name
    assert torch.equal(dz, ref_grad), name
    assert torch.equal(exported(Z), ref.detach()), name
    np.testing.assert_allclose(entry.numpy(Z.double().numpy()), ref.detach().double().numpy(), rtol=1e-5, atol=1e-6)


def test_the_defaults_the_kernels_repeat_are_torchs():
    assert nn.Softplus().beta == registry.SOFTPLUS_BETA
    assert nn.Softplus().threshold == registry.SOFTPLUS_THRESHOLD
    assert nn.LeakyReLU().negative_slope == registry.LEAKY_SLOPE
    assert nn.ELU().alpha == registry.ELU_ALPHA


@pytest.mark.parametrize("name", list(registry.OPTIMIZERS))
def test_optimizer_entry(name):
    entry = registry.OPTIMIZERS[name]
    assert name in config.OPTIMIZERS
    cfg = config.TrainConfig(optimizer=name, momentum=0.5 if entry.momentum else 0.0)
    opt = model.make_optimizer([torch.zeros(2, requires_grad=True)], cfg, torch.device("cpu"))
    assert type(opt).__name__ == entry.cls == export.OPTIMIZERS[name]
    assert ("momentum" in opt.defaults and opt.defaults["momentum"] == 0.5) == entry.momentum


@pytest.mark.parametrize("name", list(registry.LOSSES))
def test_loss_agrees_everywhere(name):
    entry = registry.LOSSES[name]
    assert name in config.LOSSES
    out, y = torch.linspace(-3, 3, 13), torch.linspace(2, -1, 13)
    ref = model.make_loss(config.TrainConfig(loss=name))(out, y)
    exported = eval(export.LOSSES[name], {"nn": nn})
    assert torch.equal(exported(out, y), ref)
    assert torch.equal(getattr(torch.nn.functional, entry.functional)(out, y, reduction="none").mean(), ref)
