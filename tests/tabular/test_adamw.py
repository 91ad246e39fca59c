"""The tabular net's AdamW: the same updates as torch.optim.AdamW, without importing torch's compiler stack."""

import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")

from mlpilot.tasks.tabular.models.adamw import AdamW  # noqa: E402


def _net(seed: int):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Embedding(5, 3), torch.nn.Flatten(), torch.nn.Linear(6, 4), torch.nn.SiLU(),
                               torch.nn.Linear(4, 1))


def test_steps_match_torch_adamw():
    ours, theirs = _net(0), _net(0)
    optimizers = [AdamW(ours.parameters(), lr=0.01, weight_decay=0.1),
                  torch.optim.AdamW(theirs.parameters(), lr=0.01, weight_decay=0.1)]
    generator = torch.Generator().manual_seed(1)
    for _ in range(25):
        x = torch.randint(0, 5, (16, 2), generator=generator)
        target = torch.randn(16, 1, generator=generator)
        for net, optimizer in zip((ours, theirs), optimizers, strict=True):
            optimizer.zero_grad()
            torch.nn.functional.mse_loss(net(x), target).backward()
            optimizer.step()
    for mine, reference in zip(ours.parameters(), theirs.parameters(), strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-6, atol=1e-7)
    assert not torch.equal(ours[2].weight, _net(0)[2].weight)  # the steps did move the weights


def test_zero_grad_clears_and_a_parameter_without_gradient_stays():
    net = _net(0)
    frozen = net[4].bias
    frozen.requires_grad_(False)
    before = frozen.clone()
    optimizer = AdamW(net.parameters(), lr=0.1, weight_decay=0.5)
    net(torch.zeros(3, 2, dtype=torch.long)).sum().backward()
    optimizer.step()
    assert torch.equal(frozen, before)
    optimizer.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_training_the_net_does_not_import_torch_dynamo():
    # A fresh interpreter: another test may already have imported torch._dynamo in this one.
    script = textwrap.dedent("""
        import sys
        import numpy as np, pandas as pd
        from mlpilot.tasks.tabular.models.mlp import TorchMLPModel
        rng = np.random.default_rng(0)
        X = pd.DataFrame({"a": rng.normal(size=200), "b": pd.Categorical(rng.choice(["x", "y"], 200))})
        y = (X["a"] > 0).to_numpy().astype(int)
        model = TorchMLPModel(problem_type="binary", n_classes=2, params={"max_epochs": 2}, seed=0)
        model.fit(X, y, X_val=X, y_val=y)
        assert model.predict(X).shape == (200, 2)
        print("torch._dynamo" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
