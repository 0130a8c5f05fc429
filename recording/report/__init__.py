"""The session report (report.html) and the side-by-side comparison of two sessions."""
from recording.report.build import build_report

__all__ = ["build_report"]
