"""Reports on paper and as PDF, through Qt's own HTML layout (QtGui only, no widgets).

The preview (``QTextBrowser``), the printer (``QPrinter``) and the PDF
(``QPdfWriter``) all lay out the same HTML with the same ``QTextDocument`` and
style sheet, so what is saved or printed is what was previewed, and no PDF
library is needed. Needs a running ``QGuiApplication`` (the client has one;
a script can create one with ``QT_QPA_PLATFORM=offscreen``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QSizeF
from PySide6.QtGui import (
    QGuiApplication,
    QPagedPaintDevice,
    QPageLayout,
    QPageSize,
    QPdfWriter,
    QTextDocument,
)

__all__ = ["REPORT_CSS", "html_to_pdf", "print_html", "report_document"]

#: One look for preview, print and PDF (Qt's rich-text subset of CSS).
REPORT_CSS: Final = """
body { font-family: "DejaVu Sans", "Segoe UI", Arial, sans-serif; font-size: 10pt; }
h2 { font-size: 15pt; color: #1f3b57; margin-bottom: 6px; }
h3 { font-size: 11.5pt; color: #1f3b57; margin-top: 14px; margin-bottom: 4px; }
p { margin-top: 2px; margin-bottom: 4px; }
table { border-collapse: collapse; margin-top: 4px; }
th { background-color: #e6edf4; font-weight: bold; text-align: left; }
th, td { border: 1px solid #9aa8b5; padding: 3px 8px; }
small { color: #555555; }
"""
MARGIN_MM: Final = 18.0


def report_document(html: str, title: str = "") -> QTextDocument:
    """The laid-out report (the caller keeps it alive while it is used)."""
    if QGuiApplication.instance() is None:
        raise RuntimeError("Rendering a report needs a running Qt application")
    doc = QTextDocument()
    doc.setDefaultStyleSheet(REPORT_CSS)
    doc.setHtml(html)
    if title:
        doc.setMetaInformation(QTextDocument.MetaInformation.DocumentTitle, title)
    return doc


def _setup(device: QPagedPaintDevice) -> None:
    device.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    device.setPageMargins(
        QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM), QPageLayout.Unit.Millimeter
    )


def print_html(html: str, device: QPagedPaintDevice, title: str = "") -> None:
    """Lay out ``html`` on a printer or PDF writer, page by page."""
    doc = report_document(html, title)
    doc.setPageSize(QSizeF())  # let print_() paginate for the device
    doc.print_(device)


def html_to_pdf(html: str, path: Path | None = None, *, title: str = "") -> bytes:
    """The report as PDF bytes (A4); also written to ``path`` when given."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setCreator("PHMS")
    writer.setTitle(title)
    writer.setResolution(300)
    _setup(writer)
    print_html(html, writer, title)
    del writer  # finishes the file
    buffer.close()
    pdf = bytes(data.data())
    if path is not None:
        path.write_bytes(pdf)
    return pdf
