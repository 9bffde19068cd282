"""Point-in-time signals, one module per theme; each returns a table keyed by (client_id, as_of).

Every function takes the raw tables (Ibis), the as_of table (:func:`features.windows.as_of_table`)
and the features config, and returns one row per client and as_of that has any relevant
event. The snapshot left-joins them onto the active clients and decides what "no row" means
(0 for counts, NaN for "days since"), so those rules live in one place.
"""
