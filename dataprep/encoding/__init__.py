"""YOLO targets: grid (v1) and anchor (v2/v3) encoding, k-means anchors, letterbox, decode (numpy only)."""
