"""Matching hashes against banks: the per-process matcher, sightings, matches, the match and
retroactive-match stages and the flood guard. See docs/matching.md."""
