"""``churn import``: a centre's CRM reports (CSV, Excel; Russian headers) into the raw-data
contract (``features/contract.py``), validated before anything is kept, week by week.

The mapping (``importing/mapping.py``, a YAML file such as ``configs/mappings/crm_report.yaml``)
says where each contract table comes from and how its text becomes typed values; the same
mapping writes the sample export (``importing/export.py``), so the two directions cannot drift
apart.
"""
