"""Inference-time scaling: best-of-k selection, rewards (judge, log-prob, validators), critics."""
