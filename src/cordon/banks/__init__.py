"""Hash lists ("banks"): banks, their entries, partners' opinions, imports and exports.

Storage and queries live in :mod:`cordon.banks.repo`; the rules of names, categories and
classifications in :mod:`cordon.banks.model`; file formats in :mod:`cordon.banks.files`.
"""
