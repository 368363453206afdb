"""Metrics over prediction and ground-truth tables (numpy/pycocotools only, never torch)."""
