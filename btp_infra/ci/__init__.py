"""CI helpers behind ``btp-infra ci``: which stacks a change touches (:mod:`~btp_infra.ci.affected`), the one
self-updating PR comment (:mod:`~btp_infra.ci.comment`), the drift issues (:mod:`~btp_infra.ci.drift`) and a
minimal GitHub REST client (:mod:`~btp_infra.ci.github`). Used by the workflows, never by the program."""

from __future__ import annotations
