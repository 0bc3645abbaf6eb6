"""keytrail: a policy-as-code access reviewer.

keytrail replays a keyed provisioning history into an access graph, checks
declarative YAML policies against it and reports sprawl, orphaned grants and
unexplained changes, each traced to the provisioning key behind it.
"""

__version__ = "0.1.0"
