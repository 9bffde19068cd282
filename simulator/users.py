"""Users of each client, kept as fixed slots so that per-user draws stay vectorised.

Slot 0 is the key user, slot 1 the decision maker; a key-user or decision-maker change
puts a newly registered user into that slot and demotes the previous holder to ``other``
(the CRM export shows current roles). Certificates live per slot: a training makes the
slot's user certified for two years.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from features.contract import USER_ROLES
from simulator.config import SimulateConfig
from simulator.population import Population

KEY, DM, DEPUTY, OTHER = (USER_ROLES.index(r) for r in USER_ROLES)
FIRST_USER_ID = 1_000_001
EMAIL_DOMAINS = ("mail.example", "firm.example", "corp.example", "inbox.example")


class Users:
    """Slot arrays (clients x max_users) plus the registration log for the users table."""

    def __init__(self, cfg: SimulateConfig, pop: Population, rng: np.random.Generator) -> None:
        n, s = pop.n, cfg.max_users
        self.cfg = cfg
        self.used = np.arange(s)[None, :] < pop.n_users[:, None]
        ids = np.full((n, s), -1, dtype=np.int64)
        ids[self.used] = FIRST_USER_ID + np.arange(int(self.used.sum()))
        self.ids = ids
        self.next_id = FIRST_USER_ID + int(self.used.sum())
        self.cert_until = np.zeros((n, s), dtype=np.int64)
        self.has_email, self.bad_email, self.subscribed = self._contact_flags(rng, (n, s))
        roles = _initial_roles(rng, n, s)
        rows, slots = np.nonzero(self.used)
        self._log = [
            (
                ids[rows, slots],
                rows,
                roles[rows, slots],
                self.has_email[rows, slots],
                self.bad_email[rows, slots],
                pop.contract_start[rows],
            )
        ]
        self._demoted: list[np.ndarray] = []

    def _contact_flags(self, rng: np.random.Generator, shape: tuple[int, ...]):
        has = rng.random(shape) >= self.cfg.missing_email_share
        bad = has & (rng.random(shape) < self.cfg.bad_email_share)
        sub = has & (rng.random(shape) < self.cfg.newsletter_subscribe_share)
        return has, bad, sub

    def pick(
        self, rng: np.random.Generator, clients: np.ndarray, n_users: np.ndarray
    ) -> np.ndarray:
        """A random current user of each given client (one per event)."""
        slot = (rng.random(len(clients)) * n_users[clients]).astype(np.int64)
        return self.ids[clients, slot]

    def replace(
        self, rng: np.random.Generator, clients: np.ndarray, slot: int, role: int, ts: np.ndarray
    ) -> None:
        """A new user takes ``slot`` of each client at ``ts``; the previous one becomes 'other'."""
        if len(clients) == 0:
            return
        self._demoted.append(self.ids[clients, slot].copy())
        new = self.next_id + np.arange(len(clients), dtype=np.int64)
        self.next_id += len(clients)
        self.ids[clients, slot] = new
        self.cert_until[clients, slot] = 0
        has, bad, sub = self._contact_flags(rng, (len(clients),))
        self.has_email[clients, slot], self.bad_email[clients, slot] = has, bad
        self.subscribed[clients, slot] = sub
        self._log.append((new, clients, np.full(len(clients), role), has, bad, ts))

    def coverage(self, at_us: int, n_users: np.ndarray) -> np.ndarray:
        """Share of each client's current users holding a certificate valid at ``at_us``."""
        valid = (self.cert_until > at_us) & self.used
        return valid.sum(axis=1) / np.maximum(n_users, 1)

    def table(self, pop: Population) -> dict[str, pa.Array]:
        """The users table: one row per user ever registered, current roles, emails."""
        uid, rows, role, has, bad, ts = (
            np.concatenate(parts) for parts in zip(*self._log, strict=True)
        )
        if self._demoted:
            role = np.where(np.isin(uid, np.concatenate(self._demoted)), OTHER, role)
        cid = pop.client_id[rows]
        domain = np.array(EMAIL_DOMAINS, dtype=object)[uid % len(EMAIL_DOMAINS)]
        local = np.char.add("u", uid.astype(str)).astype(object)
        email = (
            local
            + np.where(bad, "@@", "@")
            + np.char.add("c", cid.astype(str)).astype(object)
            + "."
            + domain
        )
        order = np.argsort(uid, kind="stable")
        email_arr = pa.array(email[order], type=pa.string(), mask=~has[order])
        return {
            "client_id": cid[order],
            "user_id": uid[order],
            "role": (role[order], USER_ROLES),
            "email": email_arr,
            "ts": ts[order],
        }


def _initial_roles(rng: np.random.Generator, n: int, s: int) -> np.ndarray:
    """Key user in slot 0, decision maker in slot 1, some deputies and second DMs, others."""
    u = rng.random((n, s))
    roles = np.full((n, s), OTHER, dtype=np.int64)
    roles[:, 2:] = np.where(u[:, 2:] < 0.08, DEPUTY, OTHER)
    if s > 2:
        roles[:, 2] = np.where(u[:, 2] < 0.6, DEPUTY, OTHER)
    if s > 3:
        roles[:, 3] = np.where(u[:, 3] < 0.25, DM, np.where(u[:, 3] < 0.45, DEPUTY, OTHER))
    if s > 1:
        roles[:, 1] = DM
    roles[:, 0] = KEY
    return roles
