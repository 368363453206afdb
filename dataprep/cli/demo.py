"""``dataprep demo``: the main job on the bundled samples, start to end.

Prints the bundled detection sample's `info`, converts it COCO -> YOLO -> VOC -> COCO and the
classification sample folders -> CSV, summarizes each result and validates the samples.
Every step goes through the public API, so this file is also a short tour of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dataprep.cli import _render, info

HELP = f"""Run the main job on the bundled samples: convert between every format, print each
result's summary and validate the samples. Writes under OUT (replaced if it exists).
{_render.EXIT_CODES_HELP}"""

# (source, destination folder name, target format, write options)
CHAIN = [
    ("detection/coco", "yolo", "yolo", {}),
    ("@yolo", "voc", "voc", {}),
    ("@voc", "coco", "coco", {}),
    ("classification/folders", "csv", "csv", {}),
]


def command(
    samples: Annotated[Path, typer.Option(help="The samples folder.")] = Path("samples"),
    out: Annotated[Path, typer.Option(help="Where the converted copies go (replaced).")] = Path("out/demo"),
) -> None:
    """Run the main job on the bundled samples."""
    from dataprep import formats
    from dataprep.summary import summarize

    console = _render.console()
    rows = []
    with _render.guard():
        source = samples / CHAIN[0][0]
        loaded = formats.load(source)
        info.print_summary(source, loaded.format, summarize(loaded.dataset), notes=loaded.notes)
        for src, name, to, options in CHAIN:
            src_path = out / src[1:] if src.startswith("@") else samples / src
            result = formats.convert(src_path, out / name, to=to, overwrite=True, write_options=options)
            written = result.written
            summary = summarize(formats.read(out / name, to))
            t = summary.totals
            rows.append(
                [
                    f"{result.source.format} -> {to}",
                    str(out / name),
                    t["images"],
                    t["boxes"] or t["image_labels"],
                    t["categories"],
                    ", ".join(f"{x.code} ({x.count})" for x in written.losses) or "lossless",
                ]
            )
        console.print(_render.table("Conversions", ["step", "output", "images", "labels", "classes", "not kept"], rows))
        try:
            from dataprep.validation import validate
        except ImportError:  # validation not installed in this build
            return
        vrows = []
        worst = 0
        for sample in ("detection/coco", "detection/voc", "detection/yolo", "classification/folders"):
            report = validate(samples / sample)
            worst = max(worst, int(report.exit_code))
            counts = report.findings["severity"].value_counts() if len(report.findings) else {}
            vrows.append(
                [sample, *(int(counts.get(s, 0)) for s in ("error", "warning", "info")), int(report.exit_code)]
            )
        console.print(
            _render.table("Validation of the samples", ["sample", "errors", "warnings", "info", "exit"], vrows)
        )
    if worst:
        raise typer.Exit(worst)
