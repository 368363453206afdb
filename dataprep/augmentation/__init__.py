"""Box- and polygon-aware augmentation: seeded pipelines of transforms (no torch at import)."""
