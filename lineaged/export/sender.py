"""POST OpenLineage events to an HTTP endpoint, Marquez's API shape: one RunEvent per
`POST <url>` with a JSON body (Marquez: /api/v1/lineage; DataHub:
/openapi/openlineage/api/v1/lineage), optionally with `Authorization: Bearer <key>`.

Failures are sorted like the graph writer's: a connection error, a timeout, 408, 429
or 5xx is transient and retried with capped exponential backoff and jitter, up to
`max_attempts`; any other answer (400 "invalid event", 401, 404 ...) is permanent.
An event that cannot be delivered goes to a dead-letter file (JSON Lines: time,
reason, HTTP status, the event) and the sender goes on; `resend()` re-drives them.
"""

from __future__ import annotations

import os
import random
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass
class SendStats:
    sent: int = 0
    dead_lettered: int = 0
    retries: int = 0


class _Failure(Exception):
    def __init__(self, reason: str, status: int | None, transient: bool) -> None:
        super().__init__(reason)
        self.reason, self.status, self.transient = reason, status, transient


class OpenLineageSender:
    def __init__(
        self,
        url: str,
        dead_letters: Path,
        *,
        api_key: str | None = None,
        timeout_s: float = 10.0,
        max_attempts: int = 6,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"OpenLineage URL must be http(s)://..., got {url!r}")
        self.url = url
        self.dead_letters = dead_letters
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.max_attempts = max(1, max_attempts)
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._sleep = sleep
        self.stats = SendStats()

    def send(self, event: dict[str, Any]) -> bool:
        """Deliver one event; False if it was dead-lettered instead."""
        body = orjson.dumps(event)
        delay = self.backoff_initial_s
        for attempt in range(1, self.max_attempts + 1):
            try:
                self._post(body)
            except _Failure as failure:
                if not failure.transient or attempt == self.max_attempts:
                    tries = f" after {attempt} attempts" if failure.transient else ""
                    self._dead_letter(event, failure.reason + tries, failure.status)
                    return False
                self.stats.retries += 1
                self._sleep(delay * random.uniform(0.5, 1.0))
                delay = min(delay * 2, self.backoff_max_s)
                continue
            self.stats.sent += 1
            return True
        raise AssertionError("unreachable")  # pragma: no cover

    def send_all(self, events: Iterable[dict[str, Any]]) -> SendStats:
        for event in events:
            self.send(event)
        return self.stats

    def resend(self) -> SendStats:
        """Send every dead-lettered event again; those still refused are dead-lettered
        again (with the new reason). Interrupted, the unsent ones are put back."""
        if not self.dead_letters.exists():
            return self.stats
        tmp = self.dead_letters.with_name(self.dead_letters.name + ".resending")
        os.replace(self.dead_letters, tmp)
        lines = [line for line in tmp.read_bytes().splitlines() if line]
        done = 0
        try:
            for line in lines:
                self.send(orjson.loads(line)["event"])
                done += 1
        finally:
            if done < len(lines):
                with open(self.dead_letters, "ab") as fh:
                    fh.writelines(line + b"\n" for line in lines[done:])
            tmp.unlink()
        return self.stats

    def _post(self, body: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
                resp.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read(300).decode(errors="replace").strip()
            reason = f"HTTP {exc.code} {exc.reason}" + (f": {detail}" if detail else "")
            raise _Failure(reason, exc.code, exc.code in TRANSIENT_STATUS) from None
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, DNS, timeout
            cause = getattr(exc, "reason", exc)
            raise _Failure(f"cannot reach {self.url}: {cause}", None, True) from None

    def _dead_letter(self, event: dict[str, Any], reason: str, status: int | None) -> None:
        self.stats.dead_lettered += 1
        letter = {
            "time": datetime.now(UTC).isoformat(),
            "url": self.url,
            "reason": " ".join(reason.split()),
            "status": status,
            "event": event,
        }
        self.dead_letters.parent.mkdir(parents=True, exist_ok=True)
        with open(self.dead_letters, "ab") as fh:
            fh.write(orjson.dumps(letter) + b"\n")
