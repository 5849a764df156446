"""The comparison viewer: one HTML page (OUT/viewer/index.html) over a comparison's files, with the report texts
in shard scripts (viewer/data/) and the images (viewer/images/) next to it, loaded a page of studies at a time.

It shows the leaderboard (sortable, with CIs, ties and plots), per-finding F1/precision/recall tables and a
study browser (image, reference and every system's report, CheXpert labels against the reference,
per-study metrics) with filters, sorting and paging. No server and no CDN: it opens from ``file://``.
"""

from radzoo.comparison.viewer.page import VIEWER_FILE, build_viewer

__all__ = ["VIEWER_FILE", "build_viewer"]
