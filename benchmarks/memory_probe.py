"""Client memory after opening charts; run in a fresh process by ``benchmarks.run``.

    python -m benchmarks.memory_probe PORT DATABASE USER PASSWORD MODE ID [ID ...]

MODE ``design``: ``services.chart.load_chart`` per chart, the frozen ``Chart``
kept (as an open chart window keeps it). MODE ``naive``: ORM lazy loading, one
Session per chart kept with its ORM objects (as a window holding its Session
would). Qt is loaded and a QApplication exists first, as in the real client.
Prints one JSON line: RSS before and after, in bytes.
"""

from __future__ import annotations

import gc
import json
import os
import sys
from typing import Any


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def main(argv: list[str]) -> int:
    port, database, user, password, mode, *ids = argv
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    import phms_client.ui.shell.app_shell  # noqa: F401  (the client as it runs)
    from benchmarks.naive import naive_chart
    from phms_client.config import ClientConfig
    from phms_client.db.database import Credentials, Database
    from phms_client.db.login import open_session
    from phms_client.services import chart

    app = QApplication.instance() or QApplication(sys.argv[:1])
    config = ClientConfig(hosts=("127.0.0.1",), port=int(port), database=database)
    db = Database(config, Credentials(user, password))
    open_session(db)
    gc.collect()
    before = rss_bytes()
    kept: list[Any] = []
    for pid in map(int, ids):
        if mode == "design":
            with db.session() as s:
                kept.append(chart.load_chart(s, pid))
        else:
            session = db._sessions()  # kept, with its objects, like a window holding it
            kept.append((session, naive_chart(session, pid)))
            session.commit()  # the connection goes back to the pool; the objects stay
    gc.collect()
    after = rss_bytes()
    print(json.dumps({"before": before, "after": after, "charts": len(kept)}))
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
