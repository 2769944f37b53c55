"""Firmware updates and diagnostics / log uploads of the simulated charger.

Both versions accept the request at once and then, a short wall-clock step apart
(``firmware_step_s``, not scaled), report their progress: a firmware update Downloading,
Downloaded, Installing, Installed; an upload (1.6 GetDiagnostics, 2.0.1 GetLog)
Uploading, Uploaded. A location starting with ``fail:`` makes the download end with
DownloadFailed and the upload with UploadFailed (2.0.1: UploadFailure, its
UploadLogStatusEnum's spelling). 1.6 sends FirmwareStatusNotification /
DiagnosticsStatusNotification; 2.0.1 FirmwareStatusNotification / LogStatusNotification
with the request's requestId. Nothing is really downloaded, installed or uploaded.
"""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from collections.abc import Awaitable, Callable

from simulators.charger.base import BaseCharger
from simulators.charger.model import ChargerOffline
from simulators.charger.routing import FollowUp

logger = logging.getLogger("simulators.charger")

FAIL_PREFIX = "fail:"

_Report = Callable[[str, int | None], Awaitable[None]]


class FirmwareUpdates(BaseCharger):
    """UpdateFirmware and GetDiagnostics / GetLog progress reports."""

    firmware_step_s = 0.05
    upload_failed = "UploadFailed"  # 2.0.1: UploadFailure

    @abstractmethod
    async def _report_firmware(self, status: str, request_id: int | None, /) -> None:
        """Send a FirmwareStatusNotification."""

    @abstractmethod
    async def _report_upload(self, status: str, request_id: int | None, /) -> None:
        """Send a DiagnosticsStatusNotification (1.6) / LogStatusNotification (2.0.1)."""

    @staticmethod
    def upload_file_name(charge_point_id: str, log_type: str = "Diagnostics") -> str:
        return f"{charge_point_id}-{log_type.lower()}.log"

    def _plan_firmware(self, location: str, request_id: int | None) -> FollowUp:
        """The follow-up of an accepted UpdateFirmware."""
        if location.startswith(FAIL_PREFIX):
            statuses = ["Downloading", "DownloadFailed"]
        else:
            statuses = ["Downloading", "Downloaded", "Installing", "Installed"]

        def start() -> None:
            self._spawn(self._progress(self._report_firmware, statuses, request_id))

        return start

    def _plan_upload(self, location: str, request_id: int | None) -> FollowUp:
        """The follow-up of an accepted GetDiagnostics / GetLog."""
        failed = location.startswith(FAIL_PREFIX)
        statuses = ["Uploading", self.upload_failed if failed else "Uploaded"]

        def start() -> None:
            self._spawn(self._progress(self._report_upload, statuses, request_id))

        return start

    async def _progress(self, report: _Report, statuses: list[str], request_id: int | None) -> None:
        try:
            for status in statuses:
                await asyncio.sleep(self.firmware_step_s)
                await report(status, request_id)
        except ChargerOffline:
            logger.info("%s: firmware/log status not delivered", self.config.charge_point_id)
