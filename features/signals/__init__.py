"""Point-in-time signals, one module per theme.

Per-date signals take raw tables (Ibis), one as_of (a date or an Ibis parameter) and the
features config, and return one row per client that has a relevant event before as_of.
``history`` computes the last-ever values for all dates of a build at once. The snapshot
left-joins them onto the active clients and decides what "no row" means (0 for counts,
NaN for "days since"), so those rules live in one place.
"""
