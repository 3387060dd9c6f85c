"""Cases and deconfliction: organisations open cases on networks, sites and identifiers, and
are told when another organisation's open case touches the same entities. See docs/cases.md.
"""
