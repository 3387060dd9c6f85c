"""The one notice engine: every message to a partner is a notice.

A notice has a kind (:mod:`cordon.notices.kinds`), one recipient organisation, a subject, the
evidence as data, channels (the in-app inbox always; signed webhooks and e-mail as the
recipient has set up), a repeat policy and an escalation rule. Feature packages compose the
content and call :func:`cordon.notices.repo.issue`; the stages in
:mod:`cordon.notices.stages` deliver and repeat. See docs/notices.md.
"""
