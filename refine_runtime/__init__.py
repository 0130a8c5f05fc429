"""Refinement runtime: per-frame diffusion-refined garment residuals (docs/refine.md).

``M_ref = M_base + R(chart, u, v | base state)``: a chart/UV index addresses a hash-grid residual
field, and a few-step reverse diffusion in (normalised, tangent-frame) residual space produces the
per-vertex offsets that ``python -m refine_runtime`` streams on the data bus every frame.
"""
