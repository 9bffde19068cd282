"""The closed loop in simulation: the real weekly run over a generated base that answers.

The top library layer (below ``cli`` only): it drives the production weekly run
(``serving.weekly.build_week``, the score store) over the simulator's base, so it may import
both; no production package imports it (``tests/test_layering.py``).
"""
