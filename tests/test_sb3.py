"""Stable-Baselines3 trains on OffloadEnv unmodified (plain gymnasium.Env contract)."""

from __future__ import annotations

import numpy as np
import pytest

sb3 = pytest.importorskip("stable_baselines3")
torch = pytest.importorskip("torch")

from mecoffload.sim.env import OffloadEnv  # noqa: E402


def test_sb3_dqn_learns_a_few_hundred_steps_and_predicts_valid_actions():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        env = OffloadEnv("comllm")
        model = sb3.DQN(
            "MlpPolicy", env, learning_starts=100, buffer_size=1_000, batch_size=32, train_freq=4,
            target_update_interval=100, policy_kwargs={"net_arch": [64, 64]}, seed=0, device="cpu",
        )
        model.learn(300)
        assert model.num_timesteps == 300 and model._n_updates > 0
        obs, _ = env.reset(seed=3)
        for _ in range(50):
            action, _ = model.predict(obs, deterministic=True)
            assert env.action_space.contains(int(action)) and env.action_masks()[int(action)]
            obs, reward, terminated, truncated, info = env.step(int(action))
            assert not info["invalid_action"] and np.isfinite(reward) and not terminated
            if truncated:
                obs, _ = env.reset()
    finally:
        torch.set_num_threads(threads)
