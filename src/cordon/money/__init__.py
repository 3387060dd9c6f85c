"""Follow the money: payment identifiers, their owners, test purchases, descriptors, crypto
transactions, and alerts to payment providers until the account is closed.

Pure parsing is in :mod:`cordon.domain.payments`; alerts are notices of the one notice engine
(:mod:`cordon.notices`). See docs/money.md.
"""
