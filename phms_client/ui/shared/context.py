"""What every window needs: the database, who is logged in, the task runner, live state."""

from __future__ import annotations

from dataclasses import dataclass

from phms_client.config import ClientConfig
from phms_client.db.database import Database
from phms_client.db.login import LoginInfo
from phms_client.ui.shared.connection import ConnectionMonitor
from phms_client.ui.shared.live import LiveUpdates
from phms_client.ui.shared.tasks import TaskRunner


@dataclass
class AppContext:
    config: ClientConfig
    db: Database
    login: LoginInfo  # replaced after a reconnect or a settings change
    tasks: TaskRunner
    live: LiveUpdates
    connection: ConnectionMonitor

    @property
    def can_edit(self) -> bool:
        return self.connection.online
