"""Plug-and-charge assembled: the in-transaction hooks the OCPP services call, and the
worker jobs that match, start, follow and finish a session.

One attempt's way: a plug event opens it (hooks) → ``pnc_match`` decides (matcher) →
``pnc_start`` checks the account, reads SoC, holds the card and starts the charger (driver)
→ the charger's transaction binds to it (hooks) → ``pnc_car_check`` and ``pnc_watch``
follow it (follow) → the transaction ends (hooks) → ``pnc_end`` reads the final SoC and
bills (finish). ``pnc_expire`` and ``pnc_release`` clean up attempts that never started.
"""

from __future__ import annotations

import asyncpg

from billing.payments import PaymentProvider
from csms.clock import Clock
from csms.commands import CommandService
from csms.config import Settings
from csms.invoicing import Invoicing
from csms.plugcharge import hooks
from csms.plugcharge.driver import Starter
from csms.plugcharge.finish import Finisher
from csms.plugcharge.follow import Follower
from csms.plugcharge.matcher import Matcher
from csms.plugcharge.policy import PncConfig
from csms.plugcharge.reads import CarReader
from csms.worker import JobHandler
from smartcar_bridge import SmartcarBridge

__all__ = ["PlugAndCharge"]


class PlugAndCharge:
    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        bridge: SmartcarBridge,
        commands: CommandService,
        provider: PaymentProvider,
        invoicing: Invoicing,
        settings: Settings,
    ) -> None:
        self.config = PncConfig.from_settings(settings)
        reader = CarReader(pool, bridge, clock)
        self.hooks = hooks.PlugHooks(
            start_timeout=self.config.start_timeout,
            car_check_after=self.config.car_check_after,
            first_poll_after=self.config.first_poll_after,
            push_window=self.config.match.window_after,
        )
        self._matcher = Matcher(pool, clock, reader, self.config)
        self._starter = Starter(
            pool,
            clock,
            reader,
            commands,
            provider,
            self.config,
            currency=settings.billing_currency,
        )
        self._follower = Follower(pool, clock, reader, commands, invoicing, self.config)
        self._finisher = Finisher(pool, clock, reader, self.config)

    def handlers(self) -> dict[str, JobHandler]:
        return {
            hooks.MATCH: self._matcher.run,
            hooks.START: self._starter.start,
            hooks.EXPIRE: self._starter.expire,
            hooks.RELEASE: self._starter.release,
            hooks.CAR_CHECK: self._follower.car_check,
            hooks.WATCH: self._follower.watch,
            hooks.END: self._finisher.end,
        }
