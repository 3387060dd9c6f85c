"""Outcomes: what follows a confirmed URL, and how long it took.

Assessments confirm URLs (beside hash matches); every confirmation becomes takedown notices
to the hosting provider or CDN and the registrar, and referrals to the partners of the hosting
country, batched per recipient, each URL with a XARF v4 report. Re-crawls verify removal and
watch for reappearance; metrics measure time to removal; the ISP block list lists what is still
live. See docs/outcomes.md.
"""
