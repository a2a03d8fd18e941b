"""Lambda handlers. Each module is deployed alone (one file per zip) and imports only boto3 and stdlib."""
