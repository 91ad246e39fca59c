"""Optimizer state as safetensors + JSON, for the tasks that train torch models (never pickle).

``torch.optim.Optimizer.state_dict()`` mixes tensors (moments) with plain values (step counts,
hyperparameters); safetensors holds only tensors, so the two halves are stored apart and joined back
on resume. torch is imported by the callers, which live in the optional torch extra.
"""

from __future__ import annotations

from typing import Any


def split_optimizer_state(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``optimizer.state_dict()`` → (tensors named ``"<param index>.<slot>"``, JSON-able rest)."""
    tensors: dict[str, Any] = {}
    scalars: dict[str, Any] = {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if hasattr(value, "detach"):  # a torch.Tensor
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous().clone()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def join_optimizer_state(tensors: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """Inverse of :func:`split_optimizer_state`: a dict ``optimizer.load_state_dict`` accepts."""
    state: dict[int, dict[str, Any]] = {}
    for name, value in [*tensors.items(), *meta["scalars"].items()]:
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": meta["param_groups"]}
