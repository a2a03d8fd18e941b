"""Lambda handlers. Each module is deployed alone (one zip each, with the repo files its topology entry
lists under `shared`) and imports only boto3, the stdlib and those files."""
