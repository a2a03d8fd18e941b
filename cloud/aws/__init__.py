"""The AWS backend of cloud/topology.py: the deployer and its reconcilers, IAM, waiting, errors, the
device credentials, Lambda packaging, the archive replay and hydrate CLIs (cloud/README.md)."""
