"""The world tells Cordon its payment providers' checkout link patterns through world.toml."""

from __future__ import annotations

from cordon.domain.payments import DEFAULT_CHECKOUT_REGISTRY, parse_checkout_link
from cordon.world import WorldHandle


def test_every_world_checkout_link_parses_with_the_configured_registry(
    world: WorldHandle,
) -> None:
    settings = world.settings()
    registry = DEFAULT_CHECKOUT_REGISTRY.extended_from_data(settings.payments.checkout_providers)
    psps = {p.id: p for p in world.truth.payment_providers}
    assert world.truth.accounts
    for account in world.truth.accounts:
        psp = psps[account.psp]
        link = f"https://{psp.checkout_host}{psp.checkout_path.format(account=account.account)}"
        parsed = parse_checkout_link(link, registry=registry)
        assert parsed is not None, link
        assert parsed.account_id == account.account
