"""What every scenario needs: where the server is, who the users are, how much to do."""

import time
from dataclasses import dataclass, field


@dataclass
class User:
    index: int
    id: int
    name: str
    token: str


@dataclass
class Context:
    host: str
    port: int
    requests: int
    concurrency: int
    users_wanted: int
    scenario_time_limit: float
    run_deadline: float  # time.monotonic() after which no new scenario starts
    run_id: str
    users: list[User] = field(default_factory=list)
    log_contains: object = None  # callable(text) -> bool: searches the server's log

    @classmethod
    def for_server(cls, server, *, time_budget: float, **options) -> "Context":
        """A context against a running BenchServer; no new scenario starts after `time_budget` s."""
        return cls(
            host=server.host,
            port=server.port,
            run_deadline=time.monotonic() + time_budget,
            log_contains=server.log_contains,
            **options,
        )

    def time_left(self) -> float:
        return min(self.scenario_time_limit, self.run_deadline - time.monotonic())

    def pairs(self, wanted: int) -> list[tuple[User, User]]:
        """Disjoint (creator, invitee) pairs, so concurrent sessions never collide on one pair."""
        usable = self.users[: 2 * wanted]
        return [(usable[i], usable[i + 1]) for i in range(0, len(usable) - 1, 2)]
