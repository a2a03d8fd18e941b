"""Lambda handlers. Each module is deployed on its own (one file per zip) and imports only boto3 and stdlib."""
