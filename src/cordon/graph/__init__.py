"""The entity graph (sites, URLs, addresses, identifiers, pictures, hosts) and the networks
("brands") found in it. See docs/networks.md."""
