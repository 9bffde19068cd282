"""Model monitoring: drift of the served weeks against the champion's training reference,
realised performance once a week's label horizon has passed, named alerts, ``/metrics``
gauges. Sits between ``store`` (the weeks it reads) and ``serving``; never reads the
simulator."""
