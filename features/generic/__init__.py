"""A second kind of source: any subscription table plus activity logs.

The centre's CRM export (``features/contract.py``) is one source; this package is the
other one, in the shape subscription businesses keep (Dynamics 365 Customer Insights, the
fight-churn book): subscriptions (customer, start, end, amount, billing period) and one or
more activity logs (customer, time, activity type, optional value and user), sometimes a
customers table with attributes.

- :mod:`features.generic.contract`: the canonical tables and their columns;
- :mod:`features.generic.spec`: the source spec (which file/columns hold what), YAML;
- :mod:`features.generic.periods`: active periods and the churn they imply (Ibis);
- :mod:`features.generic.signals`: point-in-time snapshots generated per activity type.
"""
