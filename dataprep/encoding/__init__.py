"""YOLO targets: grid (v1) and anchor (v2/v3) encoding, k-means anchors, letterbox, decode (numpy only).

The one definition of the target layout in dataprep: the CLI (``dataprep encode``/``anchors``),
the torch data adapters, the grid detector's loss and prediction all call these functions.
Rules and test vectors: ``shared/specs/yolo-targets.md``. torch is never imported here;
`decode` imports torchvision lazily for its NMS.

Typical use::

    layout = anchor_layout(YOLOV3_ANCHORS, img_size=416, num_classes=C)       # or grid_layout(7, ...)
    xyxy_net = letterbox(xyxy, width, height, img_size=416)                   # image px -> network px
    targets = encode(xyxy_net, class_index, layout, image=batch_pos)          # sparse rows
    keys, dense = to_dense(targets)                                           # per scale (N, A, S, S, 5+C)
    predictions = decode(raw_outputs, layout, images=ds.images, image_ids=ids)  # -> annotations + score
"""

from dataprep.encoding.anchors import ratio_metric, shape_iou
from dataprep.encoding.decode import decode
from dataprep.encoding.export import check_dense, plot_assignment, write_targets
from dataprep.encoding.kmeans import AnchorFit, anchor_fit, kmeans_anchors
from dataprep.encoding.layout import (
    CHANNELS,
    YOLOV3_ANCHORS,
    Layout,
    anchor_layout,
    default_strides,
    grid_layout,
    parse_anchors,
    read_anchors,
)
from dataprep.encoding.letterbox import LetterboxGeometry, letterbox, letterbox_geometry, letterbox_image, unletterbox
from dataprep.encoding.tables import EncodedDataset, box_sizes, encode_dataset, make_layout, prepare_boxes
from dataprep.encoding.targets import DROP_REASONS, ROW_COLUMNS, Targets, dense_bytes, encode, to_dense

__all__ = [
    "CHANNELS",
    "DROP_REASONS",
    "ROW_COLUMNS",
    "YOLOV3_ANCHORS",
    "AnchorFit",
    "EncodedDataset",
    "Layout",
    "LetterboxGeometry",
    "Targets",
    "anchor_fit",
    "anchor_layout",
    "box_sizes",
    "check_dense",
    "decode",
    "default_strides",
    "dense_bytes",
    "encode",
    "encode_dataset",
    "grid_layout",
    "kmeans_anchors",
    "letterbox",
    "letterbox_geometry",
    "letterbox_image",
    "make_layout",
    "parse_anchors",
    "plot_assignment",
    "prepare_boxes",
    "ratio_metric",
    "read_anchors",
    "shape_iou",
    "to_dense",
    "unletterbox",
    "write_targets",
]
